package io.shopstream.connect.s3;

/**
 * The fast path of {@link EventTime}: reads the top-level {@code created_at} of a value straight
 * from its UTF-8 bytes, with no decoding, no String and no parser objects.
 *
 * <p>It only ever <em>accepts</em>: it returns the epoch microseconds when it is certain that the
 * reference reader ({@link EventTime#createdAt} — strict UTF-8 decode of the whole value, then
 * Jackson with its default features) accepts the value with that same created_at, and the
 * contract's pattern and calendar accept the string. Anything else — invalid or merely unusual
 * (escapes in any key or in created_at, a key twice, a nested object of two members or more,
 * a surrogate escape, non-ASCII outside strings, deep nesting, long numbers, any syntax error) — returns {@link #DEFER}, and the reference reader
 * decides, with its own message. So the verdicts are the reference reader's by construction; the
 * scanner just skips the work for the common, well-formed event.
 *
 * <p>The whole value is still checked (every byte up to the end: JSON grammar of RFC 8259 as
 * Jackson reads it by default, well-formed UTF-8 in strings, only whitespace after the object),
 * so a value with trailing garbage or broken UTF-8 after created_at is never accepted here.
 */
final class CreatedAtScanner {
    /** "Ask the reference reader": not a possible result (before any year-1 timestamp). */
    static final long DEFER = Long.MIN_VALUE;
    /** Nesting below the top-level object the fast path follows (one bit per level). */
    static final int MAX_DEPTH = 64;
    /** Values longer than this, and numbers longer than {@link #MAX_NUMBER}, go to the reference reader. */
    static final int MAX_VALUE = 1 << 20;
    static final int MAX_NUMBER = 100;
    private static final byte[] FIELD = {'c', 'r', 'e', 'a', 't', 'e', 'd', '_', 'a', 't'};
    /** The contract's timestamp is exactly this long: YYYY-MM-DDTHH:MM:SS.ffffff+00:00. */
    private static final int TS_LENGTH = 32;
    /** Top-level keys the duplicate check follows; more go to the reference reader. */
    static final int MAX_KEYS = 64;
    /** Offsets (start, end) of the top-level keys seen so far, per thread: no allocation per value. */
    private static final ThreadLocal<int[]> KEYS = ThreadLocal.withInitial(() -> new int[2 * MAX_KEYS]);

    private CreatedAtScanner() {
    }

    /** Epoch microseconds of the value's top-level created_at, or {@link #DEFER}. */
    static long micros(byte[] v) {
        if (v == null || v.length > MAX_VALUE) {
            return DEFER;
        }
        int n = v.length;
        int i = ws(v, 0);
        if (i >= n || v[i] != '{') {
            return DEFER;
        }
        i = ws(v, i + 1);
        long found = DEFER;
        int[] keys = KEYS.get();
        int keyCount = 0;
        if (i < n && v[i] == '}') {
            return DEFER; // no created_at: the reference reader says so
        }
        while (true) {
            // a top-level key: printable ASCII without escapes (anything else may spell created_at)
            if (i >= n || v[i] != '"') {
                return DEFER;
            }
            int keyStart = i + 1;
            int keyEnd = plainAscii(v, keyStart);
            if (keyEnd < 0 || keyCount == MAX_KEYS || seen(v, keys, keyCount, keyStart, keyEnd)) {
                return DEFER; // the contract's duplicate_keys: the reference reader names the key
            }
            keys[2 * keyCount] = keyStart;
            keys[2 * keyCount + 1] = keyEnd;
            keyCount++;
            boolean isField = isField(v, keyStart, keyEnd);
            i = ws(v, keyEnd + 1);
            if (i >= n || v[i] != ':') {
                return DEFER;
            }
            i = ws(v, i + 1);
            if (isField) {
                if (found != DEFER || i >= n || v[i] != '"') {
                    return DEFER; // a second created_at, or not a string
                }
                int end = plainAscii(v, i + 1);
                if (end < 0 || end - (i + 1) != TS_LENGTH) {
                    return DEFER;
                }
                found = timestamp(v, i + 1);
                if (found == DEFER) {
                    return DEFER;
                }
                i = end + 1;
            } else {
                i = skipValue(v, i);
                if (i < 0) {
                    return DEFER;
                }
            }
            i = ws(v, i);
            if (i >= n) {
                return DEFER;
            }
            if (v[i] == ',') {
                i = ws(v, i + 1);
                continue;
            }
            if (v[i] != '}') {
                return DEFER;
            }
            break;
        }
        return ws(v, i + 1) == n ? found : DEFER;
    }

    /** Whether the key at {@code from..to} equals one of the first {@code count} in {@code keys}. */
    private static boolean seen(byte[] v, int[] keys, int count, int from, int to) {
        int len = to - from;
        for (int k = 0; k < count; k++) {
            int start = keys[2 * k];
            if (keys[2 * k + 1] - start == len && java.util.Arrays.equals(v, start, start + len, v, from, to)) {
                return true;
            }
        }
        return false;
    }

    private static boolean isField(byte[] v, int from, int to) {
        if (to - from != FIELD.length) {
            return false;
        }
        for (int k = 0; k < FIELD.length; k++) {
            if (v[from + k] != FIELD[k]) {
                return false;
            }
        }
        return true;
    }

    /** Index of the closing quote of a string of printable ASCII without backslash, or -1. */
    private static int plainAscii(byte[] v, int i) {
        for (int n = v.length; i < n; i++) {
            byte c = v[i];
            if (c == '"') {
                return i;
            }
            if (c < 0x20 || c == '\\' || c == 0x7f) {
                return -1;
            }
        }
        return -1;
    }

    private static int ws(byte[] v, int i) {
        for (int n = v.length; i < n; i++) {
            byte c = v[i];
            if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
                return i;
            }
        }
        return i;
    }

    /**
     * Skips one JSON value starting at {@code i} (after whitespace); the index after it, or -1.
     * Iterative: bit d of {@code arrays} says whether nesting level d is an array.
     */
    static int skipValue(byte[] v, int i) {
        int n = v.length;
        long arrays = 0;
        int depth = 0;
        value:
        while (true) {
            i = ws(v, i);
            if (i >= n) {
                return -1;
            }
            byte c = v[i];
            switch (c) {
                case '{':
                    if (depth == MAX_DEPTH) {
                        return -1;
                    }
                    i = ws(v, i + 1);
                    if (i < n && v[i] == '}') {
                        i++; // {} is a whole value
                        break;
                    }
                    arrays &= ~(1L << depth);
                    depth++;
                    i = member(v, i);
                    if (i < 0) {
                        return -1;
                    }
                    continue value;
                case '[':
                    if (depth == MAX_DEPTH) {
                        return -1;
                    }
                    i = ws(v, i + 1);
                    if (i < n && v[i] == ']') {
                        i++; // [] is a whole value
                        break;
                    }
                    arrays |= 1L << depth;
                    depth++;
                    continue value;
                case '"':
                    // after ',' in an array a backslash matches the contract's KEY_ESCAPE text rule
                    i = string(v, i + 1, depth > 0 && ((arrays >>> (depth - 1)) & 1L) != 0);
                    break;
                case 't':
                    i = literal(v, i, 't', 'r', 'u', 'e');
                    break;
                case 'f':
                    i = literal(v, i + 1, 'a', 'l', 's', 'e');
                    break;
                case 'n':
                    i = literal(v, i, 'n', 'u', 'l', 'l');
                    break;
                default:
                    i = number(v, i);
                    break;
            }
            if (i < 0) {
                return -1;
            }
            // a value ended at i: close containers until a separator or the end of this value
            while (true) {
                if (depth == 0) {
                    return i;
                }
                i = ws(v, i);
                if (i >= n) {
                    return -1;
                }
                boolean array = ((arrays >>> (depth - 1)) & 1L) != 0;
                c = v[i];
                if (c == ',') {
                    if (!array) {
                        return -1; // a nested object's second member: duplicate keys are the reference's
                    }
                    i = array ? i + 1 : member(v, ws(v, i + 1));
                    if (i < 0) {
                        return -1;
                    }
                    continue value;
                }
                if (c != (array ? ']' : '}')) {
                    return -1;
                }
                depth--;
                i++;
            }
        }
    }

    /** {@code "key" :} at {@code i}; the index after the colon, or -1. */
    private static int member(byte[] v, int i) {
        if (i >= v.length || v[i] != '"') {
            return -1;
        }
        i = string(v, i + 1, true); // keys_escapes: a key spelled with an escape is the reference's
        if (i < 0) {
            return -1;
        }
        i = ws(v, i);
        return i < v.length && v[i] == ':' ? i + 1 : -1;
    }

    private static int literal(byte[] v, int i, char a, char b, char c, char d) {
        if (i + 4 > v.length || v[i] != a || v[i + 1] != b || v[i + 2] != c || v[i + 3] != d) {
            return -1;
        }
        return i + 4;
    }

    /** -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at {@code i}; the index after it, or -1. */
    private static int number(byte[] v, int i) {
        int n = v.length;
        int start = i;
        if (i < n && v[i] == '-') {
            i++;
        }
        if (i >= n || !digit(v[i])) {
            return -1;
        }
        if (v[i] == '0') {
            i++;
        } else {
            while (i < n && digit(v[i])) {
                i++;
            }
        }
        if (i < n && v[i] == '.') {
            i++;
            if (i >= n || !digit(v[i])) {
                return -1;
            }
            while (i < n && digit(v[i])) {
                i++;
            }
        }
        if (i < n && (v[i] == 'e' || v[i] == 'E')) {
            i++;
            if (i < n && (v[i] == '+' || v[i] == '-')) {
                i++;
            }
            if (i >= n || !digit(v[i])) {
                return -1;
            }
            while (i < n && digit(v[i])) {
                i++;
            }
        }
        return i - start > MAX_NUMBER ? -1 : i;
    }

    private static boolean digit(byte c) {
        return c >= '0' && c <= '9';
    }

    /**
     * The rest of a string after its opening quote: escapes as JSON defines them, no raw control
     * character, well-formed UTF-8 (Unicode table 3-7: no overlong form, no surrogate, at most
     * U+10FFFF), no {@code \\uD800}-{@code \\uDFFF} escape (the contract's surrogate_escapes), no
     * backslash at all if {@code plain}. The index after the closing quote, or -1.
     */
    static int string(byte[] v, int i, boolean plain) {
        int n = v.length;
        while (i < n) {
            int c = v[i];
            if (c >= 0x20) { // printable ASCII (bytes >= 0x80 are negative)
                if (c == '"') {
                    return i + 1;
                }
                if (c == '\\') {
                    if (plain || i + 1 >= n) {
                        return -1;
                    }
                    byte e = v[i + 1];
                    if (e == 'u') {
                        if (i + 6 > n || !hex(v[i + 2]) || !hex(v[i + 3]) || !hex(v[i + 4]) || !hex(v[i + 5])) {
                            return -1;
                        }
                        if ((v[i + 2] == 'd' || v[i + 2] == 'D') && (v[i + 3] == '8' || v[i + 3] == '9'
                                || !digit(v[i + 3]))) {
                            return -1; // \\uD800-\\uDFFF: a surrogate escape (hex, so not a digit: a-f)
                        }
                        i += 6;
                    } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r'
                            || e == 't') {
                        i += 2;
                    } else {
                        return -1;
                    }
                } else {
                    i++;
                }
                continue;
            }
            if (c >= 0) {
                return -1; // a raw control character
            }
            i = utf8(v, i);
            if (i < 0) {
                return -1;
            }
        }
        return -1;
    }

    /** One multi-byte UTF-8 sequence at {@code i}; the index after it, or -1. */
    private static int utf8(byte[] v, int i) {
        int n = v.length;
        int b0 = v[i] & 0xff;
        int len;
        int lo = 0x80;
        int hi = 0xbf;
        if (b0 >= 0xc2 && b0 <= 0xdf) {
            len = 2;
        } else if (b0 >= 0xe0 && b0 <= 0xef) {
            len = 3;
            if (b0 == 0xe0) {
                lo = 0xa0;
            } else if (b0 == 0xed) {
                hi = 0x9f; // no surrogates
            }
        } else if (b0 >= 0xf0 && b0 <= 0xf4) {
            len = 4;
            if (b0 == 0xf0) {
                lo = 0x90;
            } else if (b0 == 0xf4) {
                hi = 0x8f;
            }
        } else {
            return -1;
        }
        if (i + len > n) {
            return -1;
        }
        int b1 = v[i + 1] & 0xff;
        if (b1 < lo || b1 > hi) {
            return -1;
        }
        for (int k = 2; k < len; k++) {
            int b = v[i + k] & 0xff;
            if (b < 0x80 || b > 0xbf) {
                return -1;
            }
        }
        return i + len;
    }

    private static boolean hex(byte c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }

    /**
     * Epoch microseconds of the 32 bytes at {@code i} if they match the contract's pattern and are
     * a calendar date-time (year 1 on, no leap second), else {@link #DEFER}.
     */
    static long timestamp(byte[] v, int i) {
        if (v[i + 4] != '-' || v[i + 7] != '-' || v[i + 10] != 'T' || v[i + 13] != ':' || v[i + 16] != ':'
                || v[i + 19] != '.' || v[i + 26] != '+' || v[i + 27] != '0' || v[i + 28] != '0'
                || v[i + 29] != ':' || v[i + 30] != '0' || v[i + 31] != '0') {
            return DEFER;
        }
        int year = digits(v, i, 4);
        int month = digits(v, i + 5, 2);
        int day = digits(v, i + 8, 2);
        int hour = digits(v, i + 11, 2);
        int minute = digits(v, i + 14, 2);
        int second = digits(v, i + 17, 2);
        int micro = digits(v, i + 20, 6);
        if (year < 1 || month < 1 || month > 12 || day < 1 || day > monthLength(year, month) || hour > 23
                || hour < 0 || minute < 0 || minute > 59 || second < 0 || second > 59 || micro < 0) {
            return DEFER; // digits() gives -1 for a non-digit
        }
        long days = epochDay(year, month, day);
        return ((days * 24 + hour) * 3600L + minute * 60L + second) * 1_000_000L + micro;
    }

    /** The number of {@code count} ASCII digits at {@code from}, or -1 if one is not a digit. */
    private static int digits(byte[] v, int from, int count) {
        int x = 0;
        for (int k = from; k < from + count; k++) {
            int d = v[k] - '0';
            if (d < 0 || d > 9) {
                return -1;
            }
            x = x * 10 + d;
        }
        return x;
    }

    static int monthLength(int year, int month) {
        switch (month) {
            case 2:
                return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28;
            case 4:
            case 6:
            case 9:
            case 11:
                return 30;
            default:
                return 31;
        }
    }

    /** Days since 1970-01-01 of a proleptic Gregorian date (year >= 1), as LocalDate.toEpochDay. */
    static long epochDay(int year, int month, int day) {
        int y = month <= 2 ? year - 1 : year;
        int era = y / 400; // y >= 0
        int yoe = y - era * 400;
        int mp = (month + 9) % 12; // March = 0
        int doy = (153 * mp + 2) / 5 + day - 1;
        int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097L + doe - 719468L;
    }
}
