package io.shopstream.connect.s3;

/** Writes one whole object; a second call with the same key replaces it. */
interface Uploader extends AutoCloseable {
    /**
     * Uploads {@code body} as {@code key}.
     *
     * @throws RuntimeException on any failure (the task turns it into a retriable flush failure)
     */
    void put(String key, byte[] body, String contentType);

    @Override
    void close();
}
