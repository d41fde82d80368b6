package io.shopstream.connect.s3;

import java.net.URI;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.AbortMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompleteMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;

/**
 * S3 (or a local S3 API) through the AWS SDK v2 with the JDK's URL connection client.
 * Credentials come from the SDK's default chain: the environment locally, the connector's service
 * execution role on MSK Connect. Objects above the part size are uploaded in parts (multipart);
 * a failed multipart upload is aborted so no part is left behind.
 */
final class S3Uploader implements Uploader {
    private final S3Client s3;
    private final String bucket;
    private final int partSize;

    S3Uploader(ArchiveSinkConfig config) {
        S3ClientBuilder builder = S3Client.builder()
                .httpClient(UrlConnectionHttpClient.create())
                .credentialsProvider(DefaultCredentialsProvider.builder().build())
                .region(Region.of(config.region()));
        if (!config.endpoint().isEmpty()) {
            builder.endpointOverride(URI.create(config.endpoint())).forcePathStyle(true);
        }
        this.s3 = builder.build();
        this.bucket = config.bucket();
        this.partSize = config.partSize();
    }

    @Override
    public void put(String key, byte[] body, String contentType) {
        if (body.length <= partSize) {
            s3.putObject(
                    PutObjectRequest.builder().bucket(bucket).key(key).contentType(contentType).build(),
                    RequestBody.fromBytes(body));
            return;
        }
        String uploadId = s3.createMultipartUpload(CreateMultipartUploadRequest.builder()
                        .bucket(bucket).key(key).contentType(contentType).build())
                .uploadId();
        try {
            List<CompletedPart> parts = new ArrayList<>();
            int number = 1;
            for (int from = 0; from < body.length; from += partSize, number++) {
                byte[] part = Arrays.copyOfRange(body, from, Math.min(body.length, from + partSize));
                String etag = s3.uploadPart(
                                UploadPartRequest.builder().bucket(bucket).key(key).uploadId(uploadId)
                                        .partNumber(number).build(),
                                RequestBody.fromBytes(part))
                        .eTag();
                parts.add(CompletedPart.builder().partNumber(number).eTag(etag).build());
            }
            s3.completeMultipartUpload(CompleteMultipartUploadRequest.builder()
                    .bucket(bucket).key(key).uploadId(uploadId)
                    .multipartUpload(CompletedMultipartUpload.builder().parts(parts).build())
                    .build());
        } catch (RuntimeException e) {
            try {
                s3.abortMultipartUpload(AbortMultipartUploadRequest.builder()
                        .bucket(bucket).key(key).uploadId(uploadId).build());
            } catch (RuntimeException abort) {
                e.addSuppressed(abort);
            }
            throw e;
        }
    }

    @Override
    public void close() {
        s3.close();
    }
}
