-- The whole DuckDB schema. Every statement is idempotent: opening a database applies it.
-- Times are seconds from the start of the call.

CREATE TABLE IF NOT EXISTS calls (
    call_id        VARCHAR PRIMARY KEY,   -- first 16 hex digits of sha256 (of the file's bytes)
    source_path    VARCHAR NOT NULL,
    sha256         VARCHAR,               -- NULL only when the file could not be read at all
    duration_s     DOUBLE,
    sample_rate    INTEGER,               -- the recording's own rate (models run at 16 kHz)
    channels       INTEGER,
    status         VARCHAR NOT NULL CHECK (status IN ('done', 'failed')),
    error          VARCHAR,
    asr_model      VARCHAR,
    diarizer       VARCHAR,
    num_speakers   INTEGER,
    diarization_confidence DOUBLE,        -- 0..1: how cleanly speech split into speakers (1 for channel map)
    role_confidence DOUBLE,               -- 0..1: how sure the agent/customer assignment is
    speech_s       DOUBLE,
    word_count     INTEGER,
    mean_word_probability DOUBLE,
    processing_s   DOUBLE,
    processed_at   TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS turns (
    call_id   VARCHAR NOT NULL,
    turn_idx  INTEGER NOT NULL,
    speaker   VARCHAR NOT NULL,          -- agent / customer / unknown
    start_s   DOUBLE NOT NULL,
    end_s     DOUBLE NOT NULL,
    text      VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS words (
    call_id     VARCHAR NOT NULL,
    word_idx    INTEGER NOT NULL,
    speaker     VARCHAR NOT NULL,
    start_s     DOUBLE NOT NULL,
    end_s       DOUBLE NOT NULL,
    word        VARCHAR NOT NULL,
    probability DOUBLE
);
