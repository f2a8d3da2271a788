package io.bmcast.node;

import io.bmcast.transport.NbdUri;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Reads an {@code --image} option: an NBD URI, or a sentence on what is wrong with it. */
public final class NbdUriConverter implements ITypeConverter<NbdUri> {
    @Override
    public NbdUri convert(String text) {
        try {
            return NbdUri.parse(text);
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException(e.getMessage());
        }
    }
}
