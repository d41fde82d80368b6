package io.shopstream.connect.s3;

import org.apache.kafka.connect.errors.DataException;

/** A record value that is not a valid event (the reason names the field and the rule). */
public final class InvalidEventException extends DataException {
    private static final long serialVersionUID = 1L;

    public InvalidEventException(String reason) {
        super(reason);
    }
}
