-- Derived tables. Applied after schema.sql on every open; CREATE OR REPLACE keeps them current.

CREATE OR REPLACE VIEW call_features AS
SELECT c.call_id, c.source_path, c.channels, c.diarizer, f.* EXCLUDE (call_id)
FROM calls c JOIN features f USING (call_id)
WHERE c.status = 'done';

-- The newest rubric version each call was scored under.
CREATE OR REPLACE VIEW latest_call_scores AS
SELECT * FROM call_scores
QUALIFY row_number() OVER (PARTITION BY call_id, rubric_id ORDER BY rubric_version DESC) = 1;
