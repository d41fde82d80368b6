package io.shopstream.connect.s3;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.LocalDateTime;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.regex.Pattern;

/**
 * Reads an event's hour from its value: the value is parsed only to find the top-level
 * {@code created_at}, which must satisfy conf/contract.yaml's {@code timestamp} rule. The value's
 * bytes are never changed.
 *
 * <p>The rule's parameters are the contract's ({@code logical_types.timestamp}):
 * tests/test_archive_plugin.py reads them from conf/contract.yaml and checks them against
 * {@link #describe()}, and feeds the same corpus to this class and to the Python validator.
 */
public final class EventTime {
    static final String FIELD = "created_at";
    /** The contract's timestamp pattern, matched against the whole string (Java's {@code \d} is ASCII). */
    static final String PATTERN_SOURCE = "\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{6}\\+00:00";

    private static final Pattern PATTERN = Pattern.compile(PATTERN_SOURCE);
    private static final JsonFactory JSON = JsonFactory.builder().build();
    private static final ThreadLocal<CharsetDecoder> UTF8 = ThreadLocal.withInitial(() -> StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT));

    private EventTime() {}

    /** The rule's parameters, one per line (what the agreement test compares with the contract). */
    public static String describe() {
        return "field=" + FIELD + "\npattern=" + PATTERN_SOURCE + "\n";
    }

    /**
     * The start of the event's UTC hour, in epoch milliseconds.
     *
     * @throws InvalidEventException when the value is not a JSON object (UTF-8) with a valid
     *     {@code created_at}
     */
    public static long hourStartMillis(byte[] value) {
        return hourStart(createdAt(value)).toEpochSecond(ZoneOffset.UTC) * 1000L;
    }

    /** The event's UTC hour (validated against the contract's timestamp rule). */
    static LocalDateTime hourStart(String createdAt) {
        if (!PATTERN.matcher(createdAt).matches()) {
            throw new InvalidEventException(FIELD + ": " + quote(createdAt) + " does not match the contract's"
                    + " timestamp pattern (YYYY-MM-DDTHH:MM:SS.ffffff+00:00)");
        }
        // The pattern fixed every digit's position: read the fields directly (a formatter is ~10x slower).
        int year = digits(createdAt, 0, 4);
        int month = digits(createdAt, 5, 2);
        int day = digits(createdAt, 8, 2);
        int hour = digits(createdAt, 11, 2);
        int minute = digits(createdAt, 14, 2);
        int second = digits(createdAt, 17, 2);
        // year 0000 exists only in the proleptic calendar; no leap seconds
        if (year < 1 || month < 1 || month > 12 || day < 1 || day > YearMonth.of(year, month).lengthOfMonth()
                || hour > 23 || minute > 59 || second > 59) {
            throw new InvalidEventException(FIELD + ": " + quote(createdAt) + " is not a calendar date-time");
        }
        return LocalDateTime.of(year, month, day, hour, 0);
    }

    /** The top-level created_at string of a JSON object value. */
    static String createdAt(byte[] value) {
        if (value == null) {
            throw new InvalidEventException("value is null (a tombstone), not an event");
        }
        CharBuffer chars;
        try {
            chars = UTF8.get().reset().decode(ByteBuffer.wrap(value));
        } catch (CharacterCodingException e) {
            throw new InvalidEventException("value is not valid UTF-8");
        }
        String found = null;
        try (JsonParser p = JSON.createParser(chars.array(), chars.arrayOffset() + chars.position(), chars.remaining())) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new InvalidEventException("value is not a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken v = p.nextToken();
                if (FIELD.equals(name)) {
                    if (found != null) {
                        throw new InvalidEventException(FIELD + ": duplicate key");
                    }
                    if (v != JsonToken.VALUE_STRING) {
                        throw new InvalidEventException(FIELD + ": expected a string, got " + v);
                    }
                    found = p.getText();
                } else {
                    p.skipChildren();
                }
            }
            if (p.nextToken() != null) {
                throw new InvalidEventException("value has content after the JSON object");
            }
        } catch (JsonProcessingException e) {
            throw new InvalidEventException("value is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new InvalidEventException("value is not valid JSON: " + e.getMessage());
        }
        if (found == null) {
            throw new InvalidEventException(FIELD + ": required field is missing");
        }
        return found;
    }

    private static int digits(String s, int from, int count) {
        int n = 0;
        for (int i = from; i < from + count; i++) {
            n = n * 10 + (s.charAt(i) - '0');
        }
        return n;
    }

    private static String quote(String s) {
        String cut = s.length() > 64 ? s.substring(0, 64) + "..." : s;
        return "'" + cut + "'";
    }

    /**
     * Verdicts for the agreement test: reads one created_at value per line (JSON string literals
     * escaped as \\uXXXX by the caller are not needed: lines are raw) from stdin and prints
     * {@code ok <hour>} or {@code invalid <reason>} per line. {@code --describe} prints the rule.
     */
    public static void main(String[] args) throws IOException {
        if (args.length > 0 && "--describe".equals(args[0])) {
            System.out.print(describe());
            return;
        }
        java.io.BufferedReader in = new java.io.BufferedReader(
                new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8));
        StringBuilder out = new StringBuilder();
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            try {
                long ms = hourStartMillis(line.getBytes(StandardCharsets.UTF_8));
                out.append("ok ").append(ms).append('\n');
            } catch (InvalidEventException e) {
                out.append("invalid ").append(e.getMessage().replace('\n', ' ')).append('\n');
            }
        }
        System.out.print(out);
    }
}
