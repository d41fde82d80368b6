package io.shopstream.connect.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class EventTimeTest {
    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static long hour(String iso) {
        return Instant.parse(iso).toEpochMilli();
    }

    @Test
    void readsTheTopLevelCreatedAtHour() {
        byte[] v = utf8("{\"nested\":{\"created_at\":\"1999-01-01T00:00:00.000000+00:00\"},"
                + "\"created_at\":\"2026-11-24T10:59:59.999999+00:00\",\"x\":[1,{\"y\":null}]}");
        assertEquals(hour("2026-11-24T10:00:00Z"), EventTime.NO_RANGE.hourStartMillis(v));
    }

    @Test
    void theFirstMicrosecondOfAnHourBelongsToThatHour() {
        assertEquals(hour("2026-11-24T11:00:00Z"),
                EventTime.NO_RANGE.hourStartMillis(utf8("{\"created_at\":\"2026-11-24T11:00:00.000000+00:00\"}")));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "2026-11-24T10:15:03Z",                       // no fraction, Z
        "2026-11-24T10:15:03.123456Z",                // Z instead of +00:00
        "2026-11-24T10:15:03.123456+09:00",           // another offset
        "2026-11-24T10:15:03.123+00:00",              // 3 fractional digits
        "2026-11-24 10:15:03.123456+00:00",           // space
        "2026-11-24T10:15:03.123456+00:00\\n",        // trailing newline inside the string
        " 2026-11-24T10:15:03.123456+00:00",          // leading space
        "2026-02-30T10:15:03.123456+00:00",           // not a calendar date
        "2026-11-24T24:00:00.000000+00:00",           // hour 24
        "2026-11-24T10:60:00.000000+00:00",           // minute 60
        "2026-11-24T10:15:60.000000+00:00",           // leap second
        "0000-01-01T00:00:00.000000+00:00",           // year 0 (proleptic only)
        "\\u0662026-11-24T10:15:03.123456+00:00",     // a non-ASCII digit
        ""
    })
    void rejectsWhatTheContractRejects(String createdAt) {
        byte[] v = utf8("{\"created_at\":\"" + createdAt + "\"}");
        InvalidEventException e = assertThrows(InvalidEventException.class, () -> EventTime.NO_RANGE.hourStartMillis(v));
        assertTrue(e.getMessage().startsWith("created_at: "), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "{not json",
        "[]",
        "\"2026-11-24T10:15:03.123456+00:00\"",
        "{}",
        "{\"created_at\": 1764000000}",
        "{\"created_at\": null}",
        "{\"created_at\":\"2026-11-24T10:15:03.123456+00:00\"} {}",
        "{\"created_at\":\"2026-11-24T10:15:03.123456+00:00\",\"created_at\":\"2026-11-24T11:15:03.123456+00:00\"}",
        "{\"a\": NaN, \"created_at\":\"2026-11-24T10:15:03.123456+00:00\"}",
        "{'created_at':'2026-11-24T10:15:03.123456+00:00'}",
        "{\"a\":\"tab\there\",\"created_at\":\"2026-11-24T10:15:03.123456+00:00\"}"
    })
    void rejectsValuesThatAreNotEventObjects(String value) {
        assertThrows(InvalidEventException.class, () -> EventTime.NO_RANGE.hourStartMillis(utf8(value)));
    }

    @Test
    void appliesTheEventTimeRangeAgainstTheIngestTime() {
        EventTime rule = EventTime.of("2000-01-01T00:00:00.000000+00:00", 300);
        long ingest = Instant.parse("2026-11-24T10:00:00Z").toEpochMilli();
        assertEquals(hour("2026-11-24T10:00:00Z"), rule.hourStartMillis(
                utf8("{\"created_at\":\"2026-11-24T10:05:00.000000+00:00\"}"), ingest)); // skew limit itself
        assertThrows(InvalidEventException.class, () -> rule.hourStartMillis(
                utf8("{\"created_at\":\"2026-11-24T10:05:00.000001+00:00\"}"), ingest));
        assertEquals(hour("2000-01-01T00:00:00Z"), rule.hourStartMillis(
                utf8("{\"created_at\":\"2000-01-01T00:00:00.000000+00:00\"}"), ingest));
        InvalidEventException e = assertThrows(InvalidEventException.class, () -> rule.hourStartMillis(
                utf8("{\"created_at\":\"1999-12-31T23:59:59.999999+00:00\"}"), ingest));
        assertTrue(e.getMessage().contains("earliest"), e.getMessage());
        assertThrows(InvalidEventException.class, () -> EventTime.of("2000-01-01", 0));
    }

    @Test
    void rejectsNullAndInvalidUtf8() {
        assertThrows(InvalidEventException.class, () -> EventTime.NO_RANGE.hourStartMillis(null));
        byte[] bad = {'{', '"', 'a', '"', ':', '"', (byte) 0xff, (byte) 0xfe, '"', '}'};
        InvalidEventException e = assertThrows(InvalidEventException.class, () -> EventTime.NO_RANGE.hourStartMillis(bad));
        assertTrue(e.getMessage().contains("UTF-8"), e.getMessage());
    }
}
