package io.bmcast.util;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void parsesAQmpReply() {
        Map<String, Object> m = Json.parseObject("""
                {"return": [{"device": "nvme0", "inserted": {"node-name": "fmt", "ro": false,
                 "image": {"virtual-size": 34359738368}}, "removable": false, "x": null, "r": -1.5e2}]}""");
        @SuppressWarnings("unchecked")
        Map<String, Object> first = (Map<String, Object>) ((List<?>) m.get("return")).get(0);
        assertEquals("nvme0", first.get("device"));
        assertEquals(Boolean.FALSE, first.get("removable"));
        assertNull(first.get("x"));
        assertEquals(-150.0, first.get("r"));
        @SuppressWarnings("unchecked")
        Map<String, Object> image = (Map<String, Object>) ((Map<String, Object>) first.get("inserted")).get("image");
        assertEquals(34359738368L, image.get("virtual-size"));
    }

    @Test
    void stringsRoundTripWithEscapes() {
        String nasty = "quote\" back\\ slash/ nl\n tab\t ctl\u0001 bell\u0007 uni\u00e9\u4e2d emoji\ud83d\ude00";
        String written = Json.write(Map.of("k", nasty));
        assertTrue(written.contains("\\u0001"), written);
        assertTrue(!written.contains("\n"), "newline must be escaped: " + written);
        assertEquals(nasty, Json.parseObject(written).get("k"));
        assertEquals("\u00e9A", Json.parse("\"\\u00e9\\u0041\""));
    }

    @Test
    void writesNumbersAndNesting() {
        Object v = Json.object("a", 1, "b", List.of(true, 2.5, "x"), "c", Json.object(), "d", null);
        assertEquals("{\"a\":1,\"b\":[true,2.5,\"x\"],\"c\":{},\"d\":null}", Json.write(v));
        assertEquals(Json.parse(Json.write(v)), Json.parse(Json.writePretty(v)));
        assertEquals(Long.MAX_VALUE, Json.parse(Long.toString(Long.MAX_VALUE)));
        assertEquals(1e20, Json.parse("100000000000000000000"));
        assertThrows(IllegalArgumentException.class, () -> Json.write(Double.NaN));
    }

    @Test
    void malformedInputNamesTheProblemAndOffset() {
        for (var c : List.of(
                new String[] {"", "unexpected end of input"},
                new String[] {"{\"a\":1,}", "trailing comma in object"},
                new String[] {"[1,2,]", "trailing comma in array"},
                new String[] {"{\"a\" 1}", "expected ':'"},
                new String[] {"{a:1}", "expected a string key"},
                new String[] {"[1 2]", "expected ',' or ']'"},
                new String[] {"01", "leading zero"},
                new String[] {"1.", "expected digit after decimal point"},
                new String[] {"\"abc", "unterminated string"},
                new String[] {"\"a\nb\"", "unescaped control character"},
                new String[] {"\"\\x\"", "invalid escape"},
                new String[] {"\"\\u12G4\"", "bad hex digit"},
                new String[] {"tru", "expected 'true'"},
                new String[] {"{} x", "after the value"},
                new String[] {"{\"a\":1,\"a\":2}", "duplicate key \"a\""},
                new String[] {"// c\n{}", "unexpected '/'"},
                new String[] {"[1,{\"a\":", "unexpected end of input"})) {
            var e = assertThrows(Json.ParseException.class, () -> Json.parse(c[0]), c[0]);
            assertTrue(e.getMessage().contains(c[1]) && e.getMessage().contains("at offset"),
                    "input " + Arrays.toString(c) + " gave: " + e.getMessage());
        }
        assertEquals(6, assertThrows(Json.ParseException.class, () -> Json.parse("[1,2,]")).offset() + 1);
    }

    @Test
    void deepNestingIsRejectedNotAStackOverflow() {
        String deep = "[".repeat(100_000);
        assertThrows(Json.ParseException.class, () -> Json.parse(deep));
    }
}
