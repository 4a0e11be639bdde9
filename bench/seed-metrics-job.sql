-- A running job of the admin key's tenant with 2,000 steps × 5 training metrics, for the polling benchmarks.
-- psql -v job=<uuid> -f bench/seed-metrics-job.sql
INSERT INTO jobs (id, tenant_id, tags, spec, status, attempt, progress, created_at)
SELECT :'job', tenant_id, '{}', json_build_object('baseModel', 'm', 'trainingDataset', :'job')::jsonb, 'Running', 1, '{}', now()
FROM api_keys WHERE is_admin LIMIT 1;
INSERT INTO metric_points (job_id, name, step, value, recorded_at)
SELECT :'job', n, s, random(), now()
FROM generate_series(1, 2000) s, unnest(ARRAY['train/loss','train/lr','train/grad_norm','train/tokens_per_s','train/tokens_seen']) n;
