package io.bmcast.node;

import io.bmcast.imagestore.ImageUri;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Reads an {@code --image} option: an NBD URI or an s3:// image, or a sentence on what is wrong with it. */
public final class ImageUriConverter implements ITypeConverter<ImageUri> {
    @Override
    public ImageUri convert(String text) {
        try {
            return ImageUri.parse(text);
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException(e.getMessage());
        }
    }
}
