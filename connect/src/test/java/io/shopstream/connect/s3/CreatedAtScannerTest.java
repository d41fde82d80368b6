package io.shopstream.connect.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The fast path never disagrees with the reference reader (strict UTF-8 + Jackson): whatever it
 * accepts, the reference accepts with the same created_at; it only leaves the rest to it.
 */
class CreatedAtScannerTest {
    static final String TS = "2026-11-24T10:15:03.123456+00:00";
    static final String EVENT = "{\"event_id\":\"6f1c0c5e-4b7e-4d55-9a51-0c7d6e1f2a3b\",\"schema_version\":1,"
            + "\"order_id\":\"o-1\",\"user_id\":\"u-7\",\"amount\":1.10,\"qty\":-2,\"big\":123456789012345678901,"
            + "\"exp\":6.02e+23,\"ok\":true,\"no\":false,\"none\":null,\"tags\":[\"a\",[],{}],"
            + "\"name\":\"\\uae40\\ubbfc\\uc900 \\\"q\\\" \\\\ \\/\",\"city\":\"서울 🚀\","
            // nested objects of one member: the fast path leaves two or more (duplicate keys) to the reference
            + "\"meta\":{\"created_at\":\"1999-01-01T00:00:00.000000+00:00\"},\"n\":[1,{\"x\":[0.5e-3]}],"
            + "\"created_at\":\"" + TS + "\",\"after\":{\"y\":[1,2,3]}}";

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** The reference verdict: epoch micros, or null for "invalid". */
    private static Long reference(byte[] v) {
        try {
            return EventTime.NO_RANGE.micros(EventTime.createdAt(v));
        } catch (InvalidEventException e) {
            return null;
        }
    }

    /** Fast path agrees with the reference wherever it answers; returns whether it answered. */
    private static boolean agrees(byte[] v) {
        long fast = CreatedAtScanner.micros(v);
        if (fast == CreatedAtScanner.DEFER) {
            return false;
        }
        Long ref = reference(v);
        assertEquals(ref, Long.valueOf(fast), () -> "fast path accepted " + new String(v, StandardCharsets.UTF_8));
        return true;
    }

    @Test
    void acceptsAnOrdinaryEventWithTheTopLevelCreatedAt() {
        long fast = CreatedAtScanner.micros(utf8(EVENT));
        assertNotEquals(CreatedAtScanner.DEFER, fast);
        assertEquals(reference(utf8(EVENT)), Long.valueOf(fast));
        assertEquals(java.time.Instant.parse("2026-11-24T10:15:03.123456Z").toEpochMilli() * 1000 + 456, fast);
    }

    @ParameterizedTest
    @ValueSource(strings = {
        // created_at only nested: invalid (missing), never the nested value
        "{\"meta\":{\"created_at\":\"" + TS + "\"}}",
        "{\"a\":[{\"created_at\":\"" + TS + "\"}]}",
        // a string that looks like the key, escaped quotes before it
        "{\"s\":\"\\\"created_at\\\":\\\"" + TS + "\\\"\",\"x\":1}",
        // duplicate top-level key (policy: invalid, as the reference reader)
        "{\"created_at\":\"" + TS + "\",\"created_at\":\"" + TS + "\"}",
        "{\"created_at\":\"" + TS + "\",\"\\u0063reated_at\":\"" + TS + "\"}",
        // truncated JSON / trailing content
        "{\"created_at\":\"" + TS + "\"",
        "{\"created_at\":\"" + TS + "\",",
        "{\"created_at\":\"" + TS + "\",\"x\":[1,2}",
        "{\"created_at\":\"" + TS + "\"}x",
        "{\"created_at\":\"" + TS + "\"}{}",
        "{\"created_at\":\"" + TS + "\",}",
        "{\"created_at\":\"" + TS + "\",\"x\":[1,]}",
        "{\"created_at\":\"" + TS + "\",\"x\":01}",
        "{\"created_at\":\"" + TS + "\",\"x\":1.}",
        "{\"created_at\":\"" + TS + "\",\"x\":.5}",
        "{\"created_at\":\"" + TS + "\",\"x\":+1}",
        "{\"created_at\":\"" + TS + "\",\"x\":NaN}",
        "{\"created_at\":\"" + TS + "\",\"x\":tru}",
        "{\"created_at\":\"" + TS + "\",\"x\":truex}",
        "{\"created_at\":\"" + TS + "\",\"x\":'a'}",
        "{\"created_at\":\"" + TS + "\",\"x\":\"a\tb\"}",      // raw control character
        "{\"created_at\":\"" + TS + "\",\"x\":\"\\x\"}",       // bad escape
        "{\"created_at\":\"" + TS + "\",\"x\":\"\\u12\"}",     // short unicode escape
        "{\"created_at\":\"" + TS + "\" /* c */}",
        "[{\"created_at\":\"" + TS + "\"}]",
        "\"" + TS + "\"",
        "",
        "{}",
        "{\"created_at\":null}",
        "{\"created_at\":20261124}",
        "{\"created_at\":\"2026-11-24T10:15:03.123456Z\"}",
        "{\"created_at\":\"2026-02-29T10:15:03.123456+00:00\"}",
        "{\"created_at\":\"0000-01-01T00:00:00.000000+00:00\"}",
        "{\"created_at\":\"2026-11-24T-1:15:03.123456+00:00\"}",
        "{\"created_at\":\"2026-11-24T10:15:03.12345a+00:00\"}",
        // the contract's validity rules (shopstream.contract.raw_errors, duplicate_keys)
        "{\"\\u0063reated_at\":\"" + TS + "\"}",               // key_escapes: a key spelled with an escape
        "{\"created_at\":\"" + TS + "\",\"x\\n\":1}",
        "{\"x\":\"\\ud800\",\"created_at\":\"" + TS + "\"}",   // surrogate_escapes: lone high
        "{\"x\":\"\\uDC00\",\"created_at\":\"" + TS + "\"}",   // lone low
        "{\"x\":\"\\ud83d\\ude00\",\"created_at\":\"" + TS + "\"}", // even a valid pair
        "{\"x\":1,\"created_at\":\"" + TS + "\",\"x\":2}",        // duplicate_keys: any key
        "{\"x\":{\"a\":1,\"a\":1},\"created_at\":\"" + TS + "\"}", // in any object
    })
    void neverAcceptsWhatTheReferenceRejects(String json) {
        byte[] v = utf8(json);
        assertNull(reference(v), "the reference accepts " + json);
        assertEquals(CreatedAtScanner.DEFER, CreatedAtScanner.micros(v), json);
    }

    @ParameterizedTest
    @ValueSource(strings = {
        " \t\r\n{ \"created_at\" : \"" + TS + "\" } \n",     // whitespace everywhere
        "{\"created_at\":\"\\u0032026-11-24T10:15:03.123456+00:00\"}", // escape in the value
        "{\"x\":[[[[[[[[[[1]]]]]]]]]],\"created_at\":\"" + TS + "\"}",
    })
    void agreesOnValidOddities(String json) {
        byte[] v = utf8(json);
        assertEquals(Long.valueOf(CreatedAtScanner.timestamp(utf8(TS), 0)), reference(v), json);
        agrees(v);
    }

    @Test
    void brokenUtf8AnywhereIsNeverAccepted() {
        byte[][] bad = {
            {(byte) 0xc0, (byte) 0xaf},             // overlong '/'
            {(byte) 0xe0, (byte) 0x80, (byte) 0xaf}, // overlong
            {(byte) 0xed, (byte) 0xa0, (byte) 0x80}, // encoded surrogate
            {(byte) 0xf4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, // > U+10FFFF
            {(byte) 0xff},
            {(byte) 0xe4, (byte) 0xb8},             // truncated
            {(byte) 0x80},                          // lone continuation
        };
        for (byte[] b : bad) {
            for (String where : new String[] {"before", "after"}) {
                String head = where.equals("before") ? "{\"x\":\"" : "{\"created_at\":\"" + TS + "\",\"x\":\"";
                String tail = where.equals("before") ? "\",\"created_at\":\"" + TS + "\"}" : "\"}";
                byte[] h = utf8(head);
                byte[] t = utf8(tail);
                byte[] v = new byte[h.length + b.length + t.length];
                System.arraycopy(h, 0, v, 0, h.length);
                System.arraycopy(b, 0, v, h.length, b.length);
                System.arraycopy(t, 0, v, h.length + b.length, t.length);
                assertNull(reference(v));
                assertEquals(CreatedAtScanner.DEFER, CreatedAtScanner.micros(v), Arrays.toString(b) + " " + where);
            }
        }
    }

    @Test
    void deepNestingIsLeftToTheReference() {
        String deep = "[".repeat(200) + "]".repeat(200);
        byte[] v = utf8("{\"x\":" + deep + ",\"created_at\":\"" + TS + "\"}");
        assertEquals(CreatedAtScanner.DEFER, CreatedAtScanner.micros(v));
        assertTrue(reference(v) != null);
    }

    @Test
    void randomMutationsOfARealEventNeverDisagree() {
        Random rng = new Random(20261130);
        byte[] base = utf8(EVENT);
        byte[] alphabet = utf8("{}[]\",:\\ 0123456789.eE+-tfnu\tx");
        int answered = 0;
        for (int n = 0; n < 200_000; n++) {
            byte[] v = base.clone();
            List<Byte> list = new ArrayList<>();
            for (byte b : v) {
                list.add(b);
            }
            for (int k = rng.nextInt(3) + 1; k > 0; k--) {
                int i = rng.nextInt(list.size());
                double op = rng.nextDouble();
                if (op < 0.5) {
                    list.set(i, rng.nextInt(10) == 0 ? (byte) (0x80 + rng.nextInt(128)) : alphabet[rng.nextInt(alphabet.length)]);
                } else if (op < 0.75) {
                    list.remove(i);
                } else {
                    list.add(i, alphabet[rng.nextInt(alphabet.length)]);
                }
            }
            byte[] m = new byte[list.size()];
            for (int i = 0; i < m.length; i++) {
                m[i] = list.get(i);
            }
            if (agrees(m)) {
                answered++;
            }
        }
        assertTrue(answered > 10_000, "the fast path answered only " + answered + " mutations");
    }

    @Test
    void epochDayIsLocalDates() {
        Random rng = new Random(7);
        for (int n = 0; n < 100_000; n++) {
            LocalDate d = LocalDate.ofEpochDay(rng.nextInt(3_652_059) - 719_162); // 0001-01-01 .. 9999-12-31
            assertEquals(d.toEpochDay(), CreatedAtScanner.epochDay(d.getYear(), d.getMonthValue(), d.getDayOfMonth()));
            assertEquals(d.lengthOfMonth(), CreatedAtScanner.monthLength(d.getYear(), d.getMonthValue()));
        }
    }
}
