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
    redacted_audio_path VARCHAR,          -- the copy with sensitive spans blanked (what reviewers hear)
    redacted_sha256 VARCHAR,              -- its hash, so a replaced original is not taken for a new call
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

-- What was redacted: kind and time span only, never the value.
CREATE TABLE IF NOT EXISTS redactions (
    call_id       VARCHAR NOT NULL,
    redaction_idx INTEGER NOT NULL,
    kind          VARCHAR NOT NULL,      -- card / cvv / expiry / account / routing / ssn / email
    start_s       DOUBLE NOT NULL,
    end_s         DOUBLE NOT NULL
);

-- Conversation features (one row per call) and the events behind them, from turns and words.
CREATE TABLE IF NOT EXISTS features (
    call_id                    VARCHAR NOT NULL,
    handle_time_s              DOUBLE,
    agent_talk_s               DOUBLE,
    customer_talk_s            DOUBLE,
    agent_talk_ratio           DOUBLE,
    silence_total_s            DOUBLE,
    longest_silence_s          DOUBLE,
    dead_air_events            INTEGER,
    hold_events                INTEGER,
    hold_total_s               DOUBLE,
    talkover_events            INTEGER,
    talkover_total_s           DOUBLE,
    agent_interruptions        INTEGER,
    customer_interruptions     INTEGER,
    agent_wpm                  DOUBLE,
    customer_wpm               DOUBLE,
    longest_agent_monologue_s  DOUBLE,
    mean_response_latency_s    DOUBLE
);

CREATE TABLE IF NOT EXISTS events (
    call_id    VARCHAR NOT NULL,
    event_idx  INTEGER NOT NULL,
    kind       VARCHAR NOT NULL,   -- dead_air / hold / talkover / interruption / backchannel
    start_s    DOUBLE NOT NULL,
    end_s      DOUBLE NOT NULL,
    speaker    VARCHAR,            -- who cut in, who put the call on hold
    detail     VARCHAR
);

-- Every rubric version ever used, as its source text, so old scores stay explainable.
CREATE TABLE IF NOT EXISTS rubrics (
    rubric_id      VARCHAR NOT NULL,
    rubric_version INTEGER NOT NULL,
    pass_mark      DOUBLE NOT NULL,
    source_path    VARCHAR,
    source_text    VARCHAR NOT NULL,
    first_used_at  TIMESTAMP NOT NULL
);

-- Each rubric version's criteria as validated when first used (variables filled in), so nothing
-- downstream parses the YAML again. ``definition`` is the whole criterion as JSON.
CREATE TABLE IF NOT EXISTS rubric_criteria (
    rubric_id      VARCHAR NOT NULL,
    rubric_version INTEGER NOT NULL,
    position       INTEGER NOT NULL,   -- file order
    stage_id       VARCHAR NOT NULL,
    stage_name     VARCHAR NOT NULL,
    criterion_id   VARCHAR NOT NULL,
    type           VARCHAR NOT NULL,
    description    VARCHAR NOT NULL,
    weight         DOUBLE NOT NULL,
    auto_fail      BOOLEAN NOT NULL,
    min_similarity DOUBLE,             -- the fuzzy-match bar in force (phrase-matching criteria only)
    definition     VARCHAR NOT NULL
);

-- Scores: one row per call and rubric version; rescoring under a new version adds rows.
CREATE TABLE IF NOT EXISTS call_scores (
    call_id        VARCHAR NOT NULL,
    rubric_id      VARCHAR NOT NULL,
    rubric_version INTEGER NOT NULL,
    score          DOUBLE NOT NULL,   -- 0-100, N/A criteria excluded and renormalised
    passed         BOOLEAN NOT NULL,
    auto_fail      BOOLEAN NOT NULL,
    confidence     DOUBLE,            -- 0-1: mean ASR word probability behind the evidence
    scored_at      TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS criterion_scores (
    call_id          VARCHAR NOT NULL,
    rubric_id        VARCHAR NOT NULL,
    rubric_version   INTEGER NOT NULL,
    criterion_id     VARCHAR NOT NULL,
    stage            VARCHAR,
    points           DOUBLE NOT NULL,
    max_points       DOUBLE NOT NULL,
    status           VARCHAR NOT NULL CHECK (status IN ('pass', 'fail', 'na')),
    auto_fail        BOOLEAN NOT NULL,
    confidence       DOUBLE,
    evidence_text    VARCHAR,
    evidence_start_s DOUBLE,
    evidence_end_s   DOUBLE
);

-- false: calibration did not trust this criterion under this rubric version when the call was
-- scored (it could not auto-fail the call; a human decides where it changes pass/fail).
ALTER TABLE criterion_scores ADD COLUMN IF NOT EXISTS trusted BOOLEAN;

-- Calls a supervisor should look at, most urgent first (priority 1 = auto-fail).
CREATE TABLE IF NOT EXISTS review_queue (
    call_id        VARCHAR NOT NULL,
    priority       INTEGER NOT NULL,
    reasons        VARCHAR NOT NULL,   -- '; '-separated, e.g. 'auto-fail: recording_disclosure'
    rubric_id      VARCHAR,
    rubric_version INTEGER,
    status         VARCHAR NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'in_review', 'done')),
    assigned_to    VARCHAR,
    created_at     TIMESTAMP NOT NULL
);

-- Why each call is queued, one kind per reason (pipeline/queue.py REASON_KINDS); rows queued before
-- the column existed get their kinds from the reason text once.
ALTER TABLE review_queue ADD COLUMN IF NOT EXISTS reason_kinds VARCHAR[];
UPDATE review_queue
   SET reason_kinds = list_filter([
           CASE WHEN contains(reasons, 'auto-fail:') THEN 'auto_fail' END,
           CASE WHEN contains(reasons, 'below pass mark') THEN 'below_pass_mark' END,
           CASE WHEN contains(reasons, 'needs human') THEN 'needs_human' END,
           CASE WHEN contains(reasons, 'low confidence') THEN 'low_confidence' END,
           CASE WHEN contains(reasons, 'random sample') THEN 'random_sample' END,
           CASE WHEN contains(reasons, 'manual review') THEN 'manual_review' END], lambda kind: kind IS NOT NULL)
 WHERE reason_kinds IS NULL;

-- Who the call belongs to (sidecar metadata or file-name pattern); NULL agent = unassigned.
ALTER TABLE calls ADD COLUMN IF NOT EXISTS agent_id VARCHAR;
ALTER TABLE calls ADD COLUMN IF NOT EXISTS team VARCHAR;
ALTER TABLE calls ADD COLUMN IF NOT EXISTS queue_name VARCHAR;
ALTER TABLE calls ADD COLUMN IF NOT EXISTS started_at TIMESTAMP;

-- The metadata as given, by file name (no folder): it may arrive before or after the call is
-- processed, and write_call (which replaces the calls row) copies it into the columns above again.
CREATE TABLE IF NOT EXISTS call_metadata (
    file_name   VARCHAR NOT NULL,
    agent_id    VARCHAR,
    team        VARCHAR,
    queue_name  VARCHAR,
    started_at  TIMESTAMP,
    source      VARCHAR NOT NULL,     -- the sidecar file, or the file-name pattern
    imported_at TIMESTAMP NOT NULL
);

-- Human grading: one review per submission (an amendment is a new review pointing at the old one).
CREATE TABLE IF NOT EXISTS reviews (
    review_id       VARCHAR NOT NULL,
    call_id         VARCHAR NOT NULL,
    reviewer        VARCHAR NOT NULL,
    rubric_id       VARCHAR,
    rubric_version  INTEGER,
    human_score     DOUBLE,
    overall_comment VARCHAR,
    coaching_notes  VARCHAR,
    source          VARCHAR NOT NULL DEFAULT 'app',  -- app / import
    amends_review_id VARCHAR,                          -- the submitted review this one amends
    started_at      TIMESTAMP,
    submitted_at    TIMESTAMP
);

CREATE TABLE IF NOT EXISTS human_grades (
    review_id    VARCHAR NOT NULL,
    criterion_id VARCHAR NOT NULL,
    status       VARCHAR NOT NULL CHECK (status IN ('pass', 'fail', 'na')),
    points       DOUBLE,
    comment      VARCHAR
);

-- How far each auto-scored criterion may be trusted, per rubric version (written by calibrate).
CREATE TABLE IF NOT EXISTS criterion_trust (
    rubric_id      VARCHAR NOT NULL,
    rubric_version INTEGER NOT NULL,
    criterion_id   VARCHAR NOT NULL,
    trusted        BOOLEAN NOT NULL,
    reason         VARCHAR NOT NULL,
    n_calls        INTEGER NOT NULL,
    kappa          DOUBLE,
    kappa_low      DOUBLE,
    kappa_high     DOUBLE,
    decided_at     TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS users (
    username      VARCHAR NOT NULL,
    password_hash VARCHAR NOT NULL,   -- argon2
    role          VARCHAR NOT NULL CHECK (role IN ('supervisor', 'qa_lead', 'admin', 'agent')),
    teams         VARCHAR[],          -- a supervisor sees only these teams' calls
    created_at    TIMESTAMP NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT false
);

-- Review-app logins: the cookie carries a signed random id, this table only its hash.
CREATE TABLE IF NOT EXISTS review_sessions (
    session_hash VARCHAR NOT NULL,
    username     VARCHAR NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    revoked_at   TIMESTAMP             -- set by logout
);

-- Append-only: every claim, grade, edit, login and failed login.
CREATE TABLE IF NOT EXISTS audit_log (
    "at"     TIMESTAMP NOT NULL,
    username VARCHAR,
    action   VARCHAR NOT NULL,
    object   VARCHAR,
    "before" VARCHAR,
    "after"  VARCHAR
);

-- Payment exchanges redaction found (times only, never what was said): where redaction failed
-- closed, and where `callqa pci-scan` listens to the redacted audio.
CREATE TABLE IF NOT EXISTS payment_windows (
    call_id    VARCHAR NOT NULL,
    window_idx INTEGER NOT NULL,
    start_s    DOUBLE NOT NULL,
    end_s      DOUBLE NOT NULL
);

-- Files `callqa export` wrote for each call: deleting a call deletes them, pci-scan reads them.
CREATE TABLE IF NOT EXISTS exported_files (
    call_id     VARCHAR NOT NULL,
    format      VARCHAR NOT NULL,
    path        VARCHAR NOT NULL,
    exported_at TIMESTAMP NOT NULL
);

-- Calls deleted on purpose (`callqa delete`, `callqa retention`, the review app's admin page):
-- the next `callqa run` does not process their recordings again unless asked. Who deleted a call,
-- when and why is in audit_log (action 'delete_call'); nothing of the call's content is kept.
CREATE TABLE IF NOT EXISTS deleted_calls (
    call_id    VARCHAR NOT NULL,
    sha256     VARCHAR,              -- the recording's hash, to know the file if it comes again
    deleted_at TIMESTAMP NOT NULL
);

-- Review app, second pass. An amendment says why it was made; the human verdict is kept beside
-- the human score (score >= the rubric's pass mark and no auto-fail criterion failed by the human).
ALTER TABLE reviews ADD COLUMN IF NOT EXISTS amend_reason VARCHAR;
ALTER TABLE reviews ADD COLUMN IF NOT EXISTS human_passed BOOLEAN;

-- What a reviewer has typed and not yet submitted, saved as they type: one per reviewer and call,
-- restored when they come back (after a logout, an expired session, a restart); gone on submit.
CREATE TABLE IF NOT EXISTS review_drafts (
    username         VARCHAR NOT NULL,
    call_id          VARCHAR NOT NULL,
    amends_review_id VARCHAR,            -- set when the draft amends a submitted review
    fields           VARCHAR NOT NULL,   -- JSON object: grading form field -> value
    saved_at         TIMESTAMP NOT NULL
);

-- Queue filters a user saved under a name of their own.
CREATE TABLE IF NOT EXISTS saved_filters (
    username   VARCHAR NOT NULL,
    name       VARCHAR NOT NULL,
    query      VARCHAR NOT NULL,          -- the queue page's query string
    created_at TIMESTAMP NOT NULL
);

-- Login throttling. Failed logins are counted per (name, address), and, from addresses the name
-- has never logged in from, per name and per address; each count past its free failures makes the
-- next try wait longer. A name's own addresses are never slowed by failures from elsewhere.
CREATE TABLE IF NOT EXISTS login_failures (
    scope          VARCHAR NOT NULL CHECK (scope IN ('pair', 'name', 'address')),
    "key"          VARCHAR NOT NULL,      -- 'name address' / name / address
    failures       INTEGER NOT NULL,
    last_failed_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS login_addresses (
    username      VARCHAR NOT NULL,
    address       VARCHAR NOT NULL,
    last_login_at TIMESTAMP NOT NULL
);

-- The customer's side of each call (pipeline/features/customer.py): one row per call, one per
-- customer turn. Their escalation / frustration / unagreed_wait events are in `events`.
CREATE TABLE IF NOT EXISTS call_customer (
    call_id           VARCHAR NOT NULL,
    customer_turns    INTEGER NOT NULL,
    frustrated_turns  INTEGER NOT NULL,   -- frustrated or escalating turns
    escalations       INTEGER NOT NULL,
    mean_sentiment    DOUBLE,             -- VADER compound, -1..1
    start_sentiment   DOUBLE,             -- mean of the first turns (cue-detected complaints count <= 0)
    end_sentiment     DOUBLE,             -- mean of the last turns
    unagreed_wait_s   DOUBLE,             -- dead air and holds the customer did not agree to
    escalated         BOOLEAN NOT NULL,
    unhappy           BOOLEAN NOT NULL,
    escalation        VARCHAR,            -- the first escalation: quote, sentiment, time
    unhappy_reasons   VARCHAR             -- '; '-separated
);

CREATE TABLE IF NOT EXISTS customer_turn_sentiment (
    call_id   VARCHAR NOT NULL,
    turn_idx  INTEGER NOT NULL,            -- order among the customer's turns
    start_s   DOUBLE NOT NULL,
    end_s     DOUBLE NOT NULL,
    compound  DOUBLE NOT NULL,
    label     VARCHAR NOT NULL,            -- escalation / frustrated / satisfied / neutral
    cue       VARCHAR                      -- the phrase or sarcasm opener that decided it
);

-- Call reasons (pipeline/categories.py): every categories file version used, and the categories
-- each call has (a rescore replaces a call's rows; set_version says which version made them).
CREATE TABLE IF NOT EXISTS category_sets (
    set_id        VARCHAR NOT NULL,
    set_version   INTEGER NOT NULL,
    source_path   VARCHAR,
    source_text   VARCHAR NOT NULL,
    first_used_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS call_categories (
    call_id       VARCHAR NOT NULL,
    set_id        VARCHAR NOT NULL,
    set_version   INTEGER NOT NULL,
    category_id   VARCHAR NOT NULL,
    name          VARCHAR NOT NULL,
    evidence_text VARCHAR,
    start_s       DOUBLE,
    end_s         DOUBLE
);

-- An `agent` account sees only the reviewed calls of this agent id (calls.agent_id); NULL = the
-- user name. (Databases made before the `agent` role get their users table rebuilt with the new
-- role check on open: see pipeline/store/coaching_store.py.)
ALTER TABLE users ADD COLUMN IF NOT EXISTS agent_id VARCHAR;

-- Coaching: a supervisor's session with an agent, the focus (criteria or metrics), the agreed
-- commitment and when to follow up; closing the follow-up records whether it was met.
CREATE TABLE IF NOT EXISTS coaching_sessions (
    session_id    VARCHAR NOT NULL,
    agent_id      VARCHAR NOT NULL,
    team          VARCHAR,
    coach         VARCHAR NOT NULL,
    held_on       DATE NOT NULL,
    focus         VARCHAR[] NOT NULL,  -- metric ids (pipeline/store/reports_sql.py METRICS) or criterion:<id>
    commitment    VARCHAR NOT NULL,
    follow_up_on  DATE NOT NULL,
    notes         VARCHAR,
    created_at    TIMESTAMP NOT NULL,
    closed_at     TIMESTAMP,
    closed_by     VARCHAR,
    outcome       VARCHAR CHECK (outcome IS NULL OR outcome IN ('met', 'not_met')),
    outcome_note  VARCHAR
);

-- An agent acknowledging a review of their call.
CREATE TABLE IF NOT EXISTS review_acknowledgements (
    review_id       VARCHAR NOT NULL,
    call_id         VARCHAR NOT NULL,
    username        VARCHAR NOT NULL,
    acknowledged_at TIMESTAMP NOT NULL
);

-- An agent disputing one criterion of a review; accepting it amends the review (a new review with
-- source 'dispute' under the original reviewer, amends_review_id set), which calibration reads.
CREATE TABLE IF NOT EXISTS disputes (
    dispute_id        VARCHAR NOT NULL,
    review_id         VARCHAR NOT NULL,   -- the review version disputed
    call_id           VARCHAR NOT NULL,
    criterion_id      VARCHAR NOT NULL,
    raised_by         VARCHAR NOT NULL,
    comment           VARCHAR NOT NULL,
    raised_at         TIMESTAMP NOT NULL,
    status            VARCHAR NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected')),
    resolved_by       VARCHAR,
    resolved_at       TIMESTAMP,
    resolution        VARCHAR,            -- the reason given
    amended_review_id VARCHAR             -- the review an accepted dispute created
);

-- What the production report needs of each call besides `calls`, in one row, written with the call
-- and by every rescore (reports over a million calls then join one table, not five): the newest
-- score, hold and dead-air seconds, whether the queue policy queued it, whether the customer was
-- unhappy. Databases from before this table get it filled once on open (store/migrations.py).
CREATE TABLE IF NOT EXISTS call_summary (
    call_id        VARCHAR NOT NULL,
    hold_total_s   DOUBLE,
    dead_air_s     DOUBLE,
    auto_score     DOUBLE,
    rubric_id      VARCHAR,
    rubric_version INTEGER,
    queued         BOOLEAN,           -- the queue policy queued it when it was last scored
    unhappy        BOOLEAN            -- NULL: the customer was not analysed
);

-- The review queue as the queue page and `callqa queue` list it: one row per review_queue row with
-- its call's, score's and failed criteria's columns (pipeline/store/queue_listing.py keeps it in
-- step with those tables; derived data, rebuilt on open when out of step).
CREATE TABLE IF NOT EXISTS queue_listing (
    call_id        VARCHAR NOT NULL,
    priority       INTEGER NOT NULL,
    reasons        VARCHAR NOT NULL,
    reason_kinds   VARCHAR[],
    rubric_id      VARCHAR,
    rubric_version INTEGER,
    status         VARCHAR NOT NULL,
    assigned_to    VARCHAR,
    created_at     TIMESTAMP NOT NULL,
    has_call       BOOLEAN NOT NULL,   -- false: no calls row (the queue lists only calls)
    source_path    VARCHAR,
    duration_s     DOUBLE,
    agent_id       VARCHAR,
    team           VARCHAR,
    queue_name     VARCHAR,
    started_at     TIMESTAMP,
    processed_at   TIMESTAMP,
    score          DOUBLE,             -- call_scores of the entry's rubric version
    auto_fail      BOOLEAN,
    listen_at      VARCHAR             -- 'criterion 12.5s, ...': failed criteria by evidence time
);
