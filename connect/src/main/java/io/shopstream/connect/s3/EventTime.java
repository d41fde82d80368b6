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
import java.time.LocalDate;
import java.time.YearMonth;
import java.util.regex.Pattern;

/**
 * Reads an event's hour from its value: the value is parsed only to find the top-level
 * {@code created_at}, which must satisfy conf/contract.yaml's {@code timestamp} rule: the whole
 * string matches the pattern, it is a calendar date-time, and it lies in the event-time range
 * {@code earliest <= created_at <= ingest time + max future skew}, where the ingest time is the
 * record's Kafka timestamp capped at this task's clock. The value's bytes are never changed.
 *
 * <p>Two readers, one verdict: {@link CreatedAtScanner} reads a well-formed event straight from
 * its bytes (no decode, no String, no parser); whatever it does not accept with certainty goes to
 * the reference reader here ({@link #createdAt}: strict UTF-8 decode, Jackson), which gives the
 * verdict and the message. EventTimeTest checks that both agree on adversarial inputs.
 *
 * <p>The range comes from the connector properties ({@code event.time.earliest},
 * {@code event.time.max.future.skew.seconds}); tests/test_archive_plugin.py checks that
 * conf/connect/sink-common.json carries the contract's values and feeds one corpus to this class
 * and to the Python validator.
 */
public final class EventTime {
    static final String FIELD = "created_at";
    /** The contract's timestamp pattern, matched against the whole string. */
    static final String PATTERN_SOURCE = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}\\+00:00";
    /** No range: what a connector without the range properties checks. */
    static final EventTime NO_RANGE = new EventTime(Long.MIN_VALUE, -1);

    /**
     * shopstream.contract.SURROGATE_ESCAPE ({@code validity.surrogate_escapes: reject}): any
     * {@code \\uD800}-{@code \\uDFFF} escape, a valid pair included (UTF-8 carries those characters).
     */
    static final String SURROGATE_ESCAPE_SOURCE = "(?<!\\\\)(?:\\\\\\\\)*\\\\u[dD][89a-fA-F][0-9a-fA-F]{2}";
    /** shopstream.contract.KEY_ESCAPE ({@code validity.key_escapes: reject}): a key spelled with an escape. */
    static final String KEY_ESCAPE_SOURCE = "[{,][ \\t\\n\\r]*\"[^\"\\\\]*\\\\";

    private static final Pattern PATTERN = Pattern.compile(PATTERN_SOURCE);
    private static final Pattern SURROGATE_ESCAPE = Pattern.compile(SURROGATE_ESCAPE_SOURCE);
    private static final Pattern KEY_ESCAPE = Pattern.compile(KEY_ESCAPE_SOURCE);
    private static final Pattern DUPLICATE = Pattern.compile("Duplicate field '(.*)'", Pattern.DOTALL);
    // validity.duplicate_keys: reject -- a key twice in any object, as Python's object_pairs_hook
    private static final JsonFactory JSON = JsonFactory.builder()
            .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();
    private static final ThreadLocal<CharsetDecoder> UTF8 = ThreadLocal.withInitial(() -> StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT));

    private final long earliestMicros;
    private final long maxFutureSkewMicros; // < 0: no upper bound

    private EventTime(long earliestMicros, long maxFutureSkewMicros) {
        this.earliestMicros = earliestMicros;
        this.maxFutureSkewMicros = maxFutureSkewMicros;
    }

    /**
     * The rule with an event-time range: {@code earliest} is a timestamp in the contract's format
     * (empty: no lower bound), {@code maxFutureSkewSeconds} how far past the ingest time an event
     * may lie (negative: no upper bound).
     */
    public static EventTime of(String earliest, long maxFutureSkewSeconds) {
        long lower = earliest.isEmpty() ? Long.MIN_VALUE : NO_RANGE.micros(earliest);
        return new EventTime(lower, maxFutureSkewSeconds < 0 ? -1 : maxFutureSkewSeconds * 1_000_000L);
    }

    /** {@link #hourStartMillis(byte[], long)} with the ingest time now (no Kafka timestamp). */
    public long hourStartMillis(byte[] value) {
        return hourStartMillis(value, System.currentTimeMillis());
    }

    /**
     * The start of the event's UTC hour, in epoch milliseconds.
     *
     * @param ingestMillis the record's Kafka timestamp, already capped at the clock
     * @throws InvalidEventException when the value is not a JSON object (UTF-8) with a valid
     *     {@code created_at}
     */
    public long hourStartMillis(byte[] value, long ingestMillis) {
        long t = CreatedAtScanner.micros(value); // the well-formed event's path: no allocation
        if (t != CreatedAtScanner.DEFER && t >= earliestMicros
                && (maxFutureSkewMicros < 0 || t <= ingestMillis * 1000L + maxFutureSkewMicros)) {
            return Math.floorDiv(t, 3_600_000_000L) * 3_600_000L;
        }
        // the reference reader: the verdict and its message for anything the fast path did not accept
        String createdAt = createdAt(value);
        t = micros(createdAt);
        if (t < earliestMicros) {
            throw new InvalidEventException(FIELD + ": " + quote(createdAt) + " is before the contract's"
                    + " earliest event time");
        }
        if (maxFutureSkewMicros >= 0 && t > ingestMillis * 1000L + maxFutureSkewMicros) {
            throw new InvalidEventException(FIELD + ": " + quote(createdAt) + " is more than "
                    + maxFutureSkewMicros / 1_000_000L + " s after the ingest time");
        }
        return Math.floorDiv(t, 3_600_000_000L) * 3_600_000L;
    }

    /** Epoch microseconds of a created_at that satisfies the pattern and the calendar. */
    long micros(String createdAt) {
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
        int micro = digits(createdAt, 20, 6);
        // year 0000 exists only in the proleptic calendar; no leap seconds
        if (year < 1 || month < 1 || month > 12 || day < 1 || day > YearMonth.of(year, month).lengthOfMonth()
                || hour > 23 || minute > 59 || second > 59) {
            throw new InvalidEventException(FIELD + ": " + quote(createdAt) + " is not a calendar date-time");
        }
        long days = LocalDate.of(year, month, day).toEpochDay();
        return ((days * 24 + hour) * 3600L + minute * 60L + second) * 1_000_000L + micro;
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
        // the contract's raw-text rules, in shopstream.contract.raw_errors' order and wording
        if (SURROGATE_ESCAPE.matcher(chars).find()) {
            throw new InvalidEventException(
                    "record holds a \\uD800-\\uDFFF escape (send UTF-8, never surrogate escapes)");
        }
        if (KEY_ESCAPE.matcher(chars).find()) {
            throw new InvalidEventException("record spells a key with an escape (keys must be literal)");
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
            java.util.regex.Matcher dup = DUPLICATE.matcher(String.valueOf(e.getOriginalMessage()));
            if (dup.matches()) {
                throw new InvalidEventException(quote(dup.group(1)) + ": duplicate key");
            }
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
     * Verdicts for the agreement test: reads one JSON value per line from stdin and prints
     * {@code ok <hour start ms>} or {@code invalid <reason>} per line, with the ingest time now.
     * Arguments: {@code [earliest [maxFutureSkewSeconds]]} (as the connector properties).
     */
    public static void main(String[] args) throws IOException {
        EventTime rule = EventTime.of(args.length > 0 ? args[0] : "", args.length > 1 ? Long.parseLong(args[1]) : -1);
        java.io.BufferedReader in = new java.io.BufferedReader(
                new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8));
        StringBuilder out = new StringBuilder();
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            try {
                long ms = rule.hourStartMillis(line.getBytes(StandardCharsets.UTF_8));
                out.append("ok ").append(ms).append('\n');
            } catch (InvalidEventException e) {
                out.append("invalid ").append(e.getMessage().replace('\n', ' ')).append('\n');
            }
        }
        System.out.print(out);
    }
}
