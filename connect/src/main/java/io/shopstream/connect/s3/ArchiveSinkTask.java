package io.shopstream.connect.s3;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.errors.RetriableException;
import org.apache.kafka.connect.sink.ErrantRecordReporter;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Buffers each record's original bytes per (topic, partition, event-time UTC hour) and uploads
 * every buffer in {@link #preCommit}: the offsets go back to the worker only after every upload of
 * the flush succeeded. A crash or a failed upload makes the worker re-deliver from the last
 * committed offset, where the buffers start empty again: each hour's buffer meets the same first
 * record, so the retried flush writes the same keys and replaces what the failed one left.
 *
 * <p>A buffer that reaches {@code flush.size} records is uploaded at once, in the background (a
 * few uploads run in parallel while the task keeps reading), and the hour continues in a new
 * buffer named by its own first offset. The cut depends only on the records since the last
 * commit, so a retry cuts at the same records and writes the same keys.
 *
 * <p>A value that is not a valid event (not a UTF-8 JSON object with a created_at the contract
 * accepts) goes to the worker's dead-letter topic through the {@link ErrantRecordReporter}
 * ({@code errors.tolerance=all}); on a worker without one it is logged with its position and
 * counted, and the task keeps running.
 */
public class ArchiveSinkTask extends SinkTask {
    private static final Logger log = LoggerFactory.getLogger(ArchiveSinkTask.class);
    /** Uploads running in parallel, and how many may be pending before {@link #put} waits. */
    static final int UPLOAD_THREADS = 4;
    static final int MAX_IN_FLIGHT = 8;

    private final Function<ArchiveSinkConfig, Uploader> uploaderFactory;
    private ArchiveSinkConfig config;
    private EventTime eventTime;
    private Uploader uploader;
    private ErrantRecordReporter reporter;
    private final Map<TopicPartition, Map<Long, HourBuffer>> buffers = new LinkedHashMap<>();
    private final List<Future<Void>> reports = new ArrayList<>();
    private final Set<TopicPartition> reading = new HashSet<>();
    private final Deque<Future<?>> inFlight = new ArrayDeque<>();
    private ExecutorService pool;
    private RuntimeException uploadFailure;
    private long flushStartedNanos;
    private int flushObjects;
    private int flushRecords;
    private boolean flushWanted;
    private long invalidReported;
    private long invalidSkipped;
    private long uploadedObjects;

    public ArchiveSinkTask() {
        this(S3Uploader::new);
    }

    ArchiveSinkTask(Function<ArchiveSinkConfig, Uploader> uploaderFactory) {
        this.uploaderFactory = uploaderFactory;
    }

    @Override
    public String version() {
        return Version.VERSION;
    }

    @Override
    public void start(Map<String, String> props) {
        config = new ArchiveSinkConfig(props);
        eventTime = config.eventTime();
        uploader = uploaderFactory.apply(config);
        AtomicInteger threads = new AtomicInteger();
        pool = Executors.newFixedThreadPool(UPLOAD_THREADS, r -> {
            Thread t = new Thread(r, "archive-upload-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        reporter = errantRecordReporter();
        if (reporter == null) {
            log.warn("No errant record reporter on this worker (Kafka Connect older than 2.6 or no error"
                    + " handling configured): invalid events are logged with their position and skipped.");
        }
    }

    private ErrantRecordReporter errantRecordReporter() {
        try {
            return context == null ? null : context.errantRecordReporter();
        } catch (NoSuchMethodError | NoClassDefFoundError e) { // workers older than Kafka 2.6
            return null;
        }
    }

    @Override
    public void put(Collection<SinkRecord> records) {
        long now = System.nanoTime();
        int flushSize = config.flushSize();
        // The worker hands records in runs of one partition (and mostly one hour): remember the
        // last partition's map and the last buffer instead of a lookup per record.
        TopicPartition tp = null;
        Map<Long, HourBuffer> byHour = null;
        HourBuffer buffer = null;
        for (SinkRecord r : records) {
            Object value = r.value();
            if (value != null && !(value instanceof byte[])) {
                throw new ConnectException("value is a " + value.getClass().getName() + ", not bytes: run this"
                        + " connector with value.converter=org.apache.kafka.connect.converters.ByteArrayConverter"
                        + " (the archive keeps every value's bytes exactly)");
            }
            String topic = r.topic();
            int partition = r.kafkaPartition();
            if (tp == null || tp.partition() != partition || !tp.topic().equals(topic)) {
                tp = new TopicPartition(topic, partition);
                byHour = buffers.computeIfAbsent(tp, k -> new HashMap<>());
                buffer = null;
                if (reading.add(tp)) {
                    log.info("archiving {} from offset {}", tp, r.kafkaOffset());
                }
            }
            byte[] bytes = (byte[]) value;
            long hour;
            try {
                long clock = System.currentTimeMillis();
                Long kafkaTime = r.timestamp(); // the ingest time, capped at our clock (the contract's rule)
                hour = eventTime.hourStartMillis(bytes, kafkaTime == null ? clock : Math.min(kafkaTime, clock));
            } catch (InvalidEventException e) {
                invalid(r, e);
                continue;
            }
            if (buffer == null || buffer.hourStartMillis != hour) {
                long offset = r.kafkaOffset();
                buffer = byHour.computeIfAbsent(hour, h -> new HourBuffer(topic, partition, h, offset, now));
            }
            buffer.append(bytes);
            if (buffer.records() >= flushSize) {
                byHour.remove(hour);
                submit(buffer);
                buffer = null;
            }
        }
        if (!flushWanted && config.flushIntervalMs() > 0) {
            long oldest = oldestBufferNanos();
            flushWanted = oldest != Long.MAX_VALUE && now - oldest >= config.flushIntervalMs() * 1_000_000L;
        }
        if (flushWanted && context != null) {
            context.requestCommit(); // the worker calls preCommit (our flush) on its next iteration
        }
    }

    private void invalid(SinkRecord r, InvalidEventException e) {
        if (reporter != null) {
            reports.add(reporter.report(r, e));
            invalidReported++;
        } else {
            invalidSkipped++;
            log.warn("invalid event at {}-{}@{} skipped (no dead-letter reporter): {}", r.topic(),
                    r.kafkaPartition(), r.kafkaOffset(), e.getMessage());
        }
    }

    private long oldestBufferNanos() {
        long oldest = Long.MAX_VALUE;
        for (Map<Long, HourBuffer> byHour : buffers.values()) {
            for (HourBuffer b : byHour.values()) {
                oldest = Math.min(oldest, b.openedNanos);
            }
        }
        return oldest;
    }

    @Override
    public Map<TopicPartition, OffsetAndMetadata> preCommit(Map<TopicPartition, OffsetAndMetadata> currentOffsets) {
        try {
            awaitReports();
            upload();
        } catch (RuntimeException e) {
            // The worker rewinds to the last committed offsets and re-delivers: start empty so the
            // retried flush rebuilds exactly the same buffers (same first offsets, same keys).
            buffers.clear();
            while (!inFlight.isEmpty()) { // nothing of this attempt may land after the retry
                settle(inFlight.removeFirst());
            }
            uploadFailure = null;
            flushObjects = 0;
            flushRecords = 0;
            reading.clear(); // log where the re-delivery starts
            flushWanted = false;
            throw new RetriableException("archive flush to s3://" + config.bucket() + " failed; it is retried"
                    + " from the last committed offsets: " + e, e);
        }
        return currentOffsets;
    }

    /** Starts the upload of one buffer in the background (waits while too many are pending). */
    private void submit(HourBuffer b) {
        while (inFlight.size() >= MAX_IN_FLIGHT) {
            settle(inFlight.removeFirst());
        }
        if (flushObjects == 0) {
            flushStartedNanos = System.nanoTime();
        }
        flushObjects++;
        flushRecords += b.records();
        boolean gzip = config.gzip();
        String key = b.key(config.prefix(), gzip);
        String contentType = gzip ? "application/gzip" : "application/x-ndjson";
        inFlight.addLast(pool.submit(() -> uploader.put(key, b.body(gzip), contentType)));
        uploadedObjects++;
    }

    /** Waits for one upload; remembers the first failure (reported by the flush). */
    private void settle(Future<?> f) {
        try {
            f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            if (uploadFailure == null) {
                uploadFailure = new RetriableException("interrupted while uploading", e);
            }
        } catch (ExecutionException e) {
            if (uploadFailure == null) {
                Throwable cause = e.getCause();
                uploadFailure = cause instanceof RuntimeException ? (RuntimeException) cause
                        : new RetriableException(String.valueOf(cause), cause);
            }
        }
    }

    /**
     * Uploads every remaining buffer and waits for every upload of the flush. All of them have
     * finished when this returns or throws, so no upload of a failed flush can land after the
     * retry's upload of the same key.
     */
    void upload() {
        for (Map<Long, HourBuffer> byHour : buffers.values()) {
            for (HourBuffer b : byHour.values()) {
                submit(b);
            }
        }
        buffers.clear();
        flushWanted = false;
        while (!inFlight.isEmpty()) {
            settle(inFlight.removeFirst());
        }
        int objects = flushObjects;
        int records = flushRecords;
        flushObjects = 0;
        flushRecords = 0;
        RuntimeException failure = uploadFailure;
        uploadFailure = null;
        if (failure != null) {
            throw failure;
        }
        if (objects > 0) {
            log.info("flushed {} records in {} objects ({} ms)", records, objects,
                    (System.nanoTime() - flushStartedNanos) / 1_000_000);
        }
    }

    private void awaitReports() {
        try {
            for (Future<Void> f : reports) {
                f.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RetriableException("interrupted while writing dead letters", e);
        } catch (ExecutionException e) {
            throw new RetriableException("writing a dead letter failed: " + e.getCause(), e.getCause());
        } finally {
            reports.clear();
        }
    }

    @Override
    public void close(Collection<TopicPartition> partitions) {
        // The worker committed what it could before closing; the next owner re-delivers the rest.
        for (Iterator<TopicPartition> it = buffers.keySet().iterator(); it.hasNext();) {
            if (partitions.contains(it.next())) {
                it.remove();
            }
        }
        reading.removeAll(partitions);
    }

    @Override
    public void stop() {
        buffers.clear();
        if (pool != null) {
            pool.shutdown();
            try {
                pool.awaitTermination(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (uploader != null) {
            uploader.close();
        }
    }

    long invalidReported() {
        return invalidReported;
    }

    long invalidSkipped() {
        return invalidSkipped;
    }

    long uploadedObjects() {
        return uploadedObjects;
    }

    int bufferedRecords() {
        int n = 0;
        for (Map<Long, HourBuffer> byHour : buffers.values()) {
            for (HourBuffer b : byHour.values()) {
                n += b.records();
            }
        }
        return n;
    }
}
