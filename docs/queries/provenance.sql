-- Provenance of a published number: everything that produced one run's results.
-- Usage: replace $run_id by the run_id of the row you are looking at
-- (every table carries run_id, and the latest_* views show the last successful run).

-- 1. the run: status, configuration hash, code version, seed, row counts
SELECT run_id, status, started_at, finished_at, config_name, config_path, config_sha256,
       code_version, seed, rows_read, rows_loaded, rows_quarantined, error
FROM audit.runs
WHERE run_id = $run_id;

-- 2. the input files it read, with their SHA-256 (compare with `sha256sum <file>`)
SELECT role, path, sha256, bytes, rows_read, rows_loaded, rows_quarantined
FROM audit.input_files
WHERE run_id = $run_id
ORDER BY role;

-- 3. its validation: expectations checked and failed, by severity
SELECT severity, count(*) AS checked, count(*) FILTER (WHERE NOT success) AS failed
FROM audit.validation_results
WHERE run_id = $run_id
GROUP BY severity
ORDER BY severity;

-- 4. every expectation that failed (a failed error-level one stops the run before publishing)
SELECT table_name, column_name, expectation, severity, observed
FROM audit.validation_results
WHERE run_id = $run_id
  AND NOT success
ORDER BY severity, table_name, column_name;

-- 5. the model artifacts behind its pmt:<model> rows (file: <output>/models/…/<model>.joblib)
SELECT DISTINCT model, artifact_sha256, cv_scheme, n_train
FROM audit.model_metrics
WHERE run_id = $run_id
ORDER BY model;

-- 6. what it skipped or assumed
SELECT stage, note
FROM audit.run_notes
WHERE run_id = $run_id;
