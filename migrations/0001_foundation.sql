-- Foundation: cron run history (health and the admin overview show the last
-- run of each cron and whether one was missed) and feature flags (kill
-- switches per integration, flipped from the admin API).

CREATE TABLE cron_runs (
    id           bigserial PRIMARY KEY,
    name         text        NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    ok           boolean,
    summary      jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX cron_runs_name_started ON cron_runs (name, started_at DESC);

CREATE TABLE feature_flags (
    name        text PRIMARY KEY,
    enabled     boolean     NOT NULL,
    updated_by  text        NOT NULL,
    note        text        NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
