package io.bmcast.transport;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * Reads the PEM files of an X.509 credentials directory with the JDK's own APIs: certificates, and private
 * keys in the three encodings the usual tools write.
 *
 * <pre>
 *   -----BEGIN PRIVATE KEY-----      PKCS#8 (openssl genpkey, openssl req -newkey): RSA, EC, Ed25519
 *   -----BEGIN RSA PRIVATE KEY-----  PKCS#1 (certtool --generate-privkey, openssl genrsa -traditional)
 *   -----BEGIN EC PRIVATE KEY-----   SEC1 (certtool --generate-privkey --key-type ecdsa, openssl ecparam -genkey)
 * </pre>
 * The JDK's {@link KeyFactory} reads only PKCS#8, so PKCS#1 and SEC1 keys are wrapped into a PKCS#8
 * PrivateKeyInfo (RFC 5208) first: a few bytes of DER around the key as it is. Encrypted keys are refused.
 */
final class Pem {
    private static final byte[] OID_RSA = {0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01};
    private static final byte[] OID_EC = {0x06, 0x07, 0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x02, 0x01};
    private static final byte[] DER_NULL = {0x05, 0x00};

    private Pem() {}

    /** One PEM block: its label ("CERTIFICATE", "PRIVATE KEY", ...) and decoded bytes. */
    record Block(String label, byte[] der) {}

    static List<Block> blocks(Path file) throws IOException {
        String text = Files.readString(file, StandardCharsets.US_ASCII);
        List<Block> out = new ArrayList<>();
        int at = 0;
        while (true) {
            int begin = text.indexOf("-----BEGIN ", at);
            if (begin < 0) break;
            int labelEnd = text.indexOf("-----", begin + 11);
            if (labelEnd < 0) break;
            String label = text.substring(begin + 11, labelEnd);
            String endMarker = "-----END " + label + "-----";
            int end = text.indexOf(endMarker, labelEnd);
            if (end < 0) throw new IOException(file + ": no '" + endMarker + "'");
            String body = text.substring(labelEnd + 5, end);
            if (body.contains(":")) throw new IOException(file + ": encrypted PEM blocks are not supported");
            try {
                out.add(new Block(label, Base64.getMimeDecoder().decode(body)));
            } catch (IllegalArgumentException e) {
                throw new IOException(file + ": bad base64 in the " + label + " block");
            }
            at = end + endMarker.length();
        }
        return out;
    }

    /** Every certificate in {@code file}, in order (a chain: the leaf first). */
    static List<X509Certificate> certificates(Path file) throws IOException {
        List<X509Certificate> out = new ArrayList<>();
        try {
            CertificateFactory f = CertificateFactory.getInstance("X.509");
            for (Block b : blocks(file)) {
                if (b.label().equals("CERTIFICATE") || b.label().equals("X509 CERTIFICATE")) {
                    out.add((X509Certificate) f.generateCertificate(new ByteArrayInputStream(b.der())));
                }
            }
        } catch (CertificateException e) {
            throw new IOException(file + ": not a valid certificate: " + e.getMessage(), e);
        }
        if (out.isEmpty()) throw new IOException(file + " holds no PEM certificate");
        return out;
    }

    /** The first private key in {@code file}. */
    static PrivateKey privateKey(Path file) throws IOException {
        for (Block b : blocks(file)) {
            byte[] pkcs8 = switch (b.label()) {
                case "PRIVATE KEY" -> b.der();
                case "RSA PRIVATE KEY" -> privateKeyInfo(sequence(OID_RSA, DER_NULL), b.der());
                case "EC PRIVATE KEY" -> privateKeyInfo(sequence(OID_EC, sec1Curve(b.der(), file)), b.der());
                case "ENCRYPTED PRIVATE KEY" -> throw new IOException(file + ": encrypted private keys are not supported");
                default -> null;
            };
            if (pkcs8 == null) continue;
            for (String algorithm : new String[] {"RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS"}) {
                try {
                    return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
                } catch (GeneralSecurityException e) {
                    // try the next algorithm
                }
            }
            throw new IOException(file + ": the " + b.label() + " is of a kind Java cannot read (RSA, EC, Ed25519 work)");
        }
        throw new IOException(file + " holds no PEM private key");
    }

    /** PrivateKeyInfo ::= SEQUENCE { version 0, AlgorithmIdentifier, OCTET STRING key } */
    private static byte[] privateKeyInfo(byte[] algorithm, byte[] key) {
        return sequence(new byte[] {0x02, 0x01, 0x00}, algorithm, tlv(0x04, key));
    }

    /**
     * The named curve of a SEC1 ECPrivateKey ::= SEQUENCE { version 1, OCTET STRING key, [0] OID curve
     * OPTIONAL, [1] BIT STRING public OPTIONAL }: the OID's whole TLV.
     */
    private static byte[] sec1Curve(byte[] der, Path file) throws IOException {
        Der d = new Der(der, file);
        d.enter(0x30);
        d.skip(0x02);
        d.skip(0x04);
        if (d.peek() != 0xa0) throw new IOException(file + ": the EC private key does not name its curve");
        d.enter(0xa0);
        int start = d.at;
        d.skip(0x06);
        return java.util.Arrays.copyOfRange(der, start, d.at);
    }

    private static byte[] sequence(byte[]... parts) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (byte[] p : parts) body.writeBytes(p);
        return tlv(0x30, body.toByteArray());
    }

    private static byte[] tlv(int tag, byte[] value) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(value.length + 6);
        out.write(tag);
        int n = value.length;
        if (n < 0x80) {
            out.write(n);
        } else {
            int bytes = n > 0xffffff ? 4 : n > 0xffff ? 3 : n > 0xff ? 2 : 1;
            out.write(0x80 | bytes);
            for (int i = bytes - 1; i >= 0; i--) out.write(n >>> (8 * i));
        }
        out.writeBytes(value);
        return out.toByteArray();
    }

    /** Just enough of a DER reader to walk a SEC1 key. */
    private static final class Der {
        final byte[] b;
        final Path file;
        int at;

        Der(byte[] b, Path file) {
            this.b = b;
            this.file = file;
        }

        int peek() throws IOException {
            if (at >= b.length) throw bad();
            return b[at] & 0xff;
        }

        /** Reads a tag and length; returns the length, leaving {@link #at} on the value. */
        int header(int tag) throws IOException {
            if (peek() != tag) throw bad();
            at++;
            int first = peek();
            at++;
            if (first < 0x80) return first;
            int bytes = first & 0x7f;
            if (bytes < 1 || bytes > 4) throw bad();
            int n = 0;
            for (int i = 0; i < bytes; i++) {
                n = n << 8 | peek();
                at++;
            }
            return n;
        }

        void enter(int tag) throws IOException {
            header(tag);
        }

        void skip(int tag) throws IOException {
            int n = header(tag);
            if (n < 0 || at + n > b.length) throw bad();
            at += n;
        }

        IOException bad() {
            return new IOException(file + ": malformed EC private key");
        }
    }
}
