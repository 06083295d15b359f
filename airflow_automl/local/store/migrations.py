"""The database's schema, as the migrations that built it: each entry brings the schema from
version i to i + 1 (counted in ``PRAGMA user_version``). A new table or column is a new entry at
the end; never edit one that has shipped."""

# The first one is written with IF NOT EXISTS because data dirs made before the schema was
# versioned (user_version 0) already hold its tables.
MIGRATIONS = (
    """
    CREATE TABLE IF NOT EXISTS jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        name_key TEXT NOT NULL UNIQUE,            -- lowercased name: names are unique case-insensitively
        name TEXT NOT NULL,
        arn TEXT NOT NULL UNIQUE,
        api_version INTEGER NOT NULL,             -- 1: CreateAutoMLJob, 2: CreateAutoMLJobV2
        request_json TEXT NOT NULL,               -- the create request as received
        spec_json TEXT NOT NULL,                  -- JobSpec.to_dict()
        status TEXT NOT NULL,
        secondary_status TEXT NOT NULL,
        creation_time REAL NOT NULL,
        last_modified_time REAL NOT NULL,
        end_time REAL,
        failure_reason TEXT,
        partial_failure_reasons_json TEXT,
        best_candidate_name TEXT,
        artifacts_json TEXT,
        resolved_attributes_json TEXT,
        deploy_result_json TEXT,
        run_id TEXT,                              -- set when a worker starts; fences the worker's writes
        worker_pid INTEGER,
        started_time REAL,
        stop_requested_time REAL
    );
    CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, seq);
    CREATE INDEX IF NOT EXISTS jobs_by_creation ON jobs (creation_time, seq);
    CREATE TABLE IF NOT EXISTS candidates (
        job_name_key TEXT NOT NULL REFERENCES jobs (name_key),
        seq INTEGER NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        metric_value REAL,
        creation_time REAL NOT NULL,
        end_time REAL,
        last_modified_time REAL NOT NULL,
        candidate_json TEXT NOT NULL,
        PRIMARY KEY (job_name_key, name)
    );
    CREATE TABLE IF NOT EXISTS tags (
        arn TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (arn, key)
    );
    CREATE TABLE IF NOT EXISTS endpoints (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        name_key TEXT NOT NULL UNIQUE,            -- lowercased name: names are unique case-insensitively
        name TEXT NOT NULL,
        arn TEXT NOT NULL,
        job_name TEXT NOT NULL,                   -- the AutoML job whose best model it serves
        candidate_name TEXT NOT NULL,
        status TEXT NOT NULL,                     -- Creating | InService | Failed
        failure_reason TEXT,
        creation_time REAL NOT NULL,
        last_modified_time REAL NOT NULL
    );
    """,
    """
    CREATE TABLE IF NOT EXISTS secrets (
        name TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    """,
    # Models, endpoint configs, and endpoints that serve an endpoint config (UpdateEndpoint).
    """
    CREATE TABLE models (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        name_key TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        arn TEXT NOT NULL,
        request_json TEXT NOT NULL,               -- the CreateModel request as received
        job_name TEXT NOT NULL,                   -- the AutoML job whose kept model it serves
        candidate_name TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'Created',   -- models have no status; paging's filters need one
        creation_time REAL NOT NULL,
        last_modified_time REAL NOT NULL
    );
    CREATE TABLE endpoint_configs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        name_key TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        arn TEXT NOT NULL,
        request_json TEXT NOT NULL,               -- the CreateEndpointConfig request as received
        status TEXT NOT NULL DEFAULT 'Created',
        creation_time REAL NOT NULL,
        last_modified_time REAL NOT NULL
    );
    ALTER TABLE endpoints ADD COLUMN endpoint_config_name TEXT;  -- the config it serves (NULL: made before configs)
    ALTER TABLE endpoints ADD COLUMN pending_config_name TEXT;   -- the config an update is loading
    -- What the endpoint serves: its config's variants with their models resolved (JSON), so that
    -- deleting a model or config in use leaves the endpoint serving, as on SageMaker.
    ALTER TABLE endpoints ADD COLUMN variants_json TEXT;
    ALTER TABLE endpoints ADD COLUMN pending_variants_json TEXT;
    """,
    # Batch transform jobs (CreateTransformJob), run by worker processes as AutoML jobs are.
    """
    CREATE TABLE transform_jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        name_key TEXT NOT NULL UNIQUE,            -- lowercased name: names are unique case-insensitively
        name TEXT NOT NULL,
        arn TEXT NOT NULL,
        request_json TEXT NOT NULL,               -- the CreateTransformJob request as received
        model_job_name TEXT NOT NULL,             -- the AutoML job whose kept model the job's model serves
        status TEXT NOT NULL,                     -- InProgress | Completed | Failed | Stopping | Stopped
        failure_reason TEXT,
        creation_time REAL NOT NULL,
        last_modified_time REAL NOT NULL,
        start_time REAL,                          -- TransformStartTime: when a worker took it
        end_time REAL,
        run_id TEXT,                              -- set when a worker starts; fences the worker's writes
        worker_pid INTEGER,
        stop_requested_time REAL
    );
    CREATE INDEX transform_jobs_by_status ON transform_jobs (status, seq);
    CREATE INDEX transform_jobs_by_creation ON transform_jobs (creation_time, seq);
    """,
    # The model registry: model package groups and the (versioned or unversioned) packages.
    """
    CREATE TABLE model_package_groups (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        name_key TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        arn TEXT NOT NULL,
        request_json TEXT NOT NULL,               -- the CreateModelPackageGroup request as received
        status TEXT NOT NULL DEFAULT 'Completed',
        next_version INTEGER NOT NULL DEFAULT 1,  -- versions are never given twice, even after a delete
        creation_time REAL NOT NULL,
        last_modified_time REAL NOT NULL
    );
    CREATE TABLE model_packages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,                 -- lowercased 'group/version', or the unversioned name
        name_key TEXT NOT NULL,                   -- lowercased ModelPackageName (a version's: its group's)
        name TEXT NOT NULL,
        group_name_key TEXT,
        group_name TEXT,
        version INTEGER,
        arn TEXT NOT NULL,
        request_json TEXT NOT NULL,               -- the CreateModelPackage request as received
        status TEXT NOT NULL DEFAULT 'Completed',
        approval_status TEXT,
        approval_description TEXT,
        customer_metadata_json TEXT,
        client_token TEXT,
        creation_time REAL NOT NULL,
        last_modified_time REAL NOT NULL
    );
    CREATE INDEX model_packages_by_group ON model_packages (group_name_key, version);
    CREATE INDEX model_packages_by_client_token ON model_packages (client_token);
    """,
    # Every candidate's model is kept: a transform job runs the model of the candidate its model
    # names (NULL: made before, the job's best); what a candidate's training step really did.
    """
    ALTER TABLE transform_jobs ADD COLUMN model_candidate_name TEXT;
    ALTER TABLE candidates ADD COLUMN training_json TEXT;
    -- The steps candidates name (CandidateSteps), as the jobs DescribeTrainingJob, ListTrainingJobs,
    -- DescribeProcessingJob, ListProcessingJobs and DescribeTransformJob answer for. A candidate
    -- names one training and one transform step of its own; the processing step (the data split)
    -- is the job's, named by every candidate. seq: a number unique per step, for pages.
    CREATE VIEW candidate_steps AS
        SELECT candidates.rowid AS candidate_rowid,
               json_extract(step.value, '$.CandidateStepType') AS step_type,
               json_extract(step.value, '$.CandidateStepName') AS name,
               lower(json_extract(step.value, '$.CandidateStepName')) AS name_key,
               json_extract(step.value, '$.CandidateStepArn') AS arn,
               jobs.name AS job_name,
               candidates.name AS candidate_name,
               candidates.status AS status,
               candidates.creation_time AS creation_time,
               candidates.end_time AS end_time,
               candidates.last_modified_time AS last_modified_time
        FROM candidates
        JOIN jobs ON jobs.name_key = candidates.job_name_key,
             json_each(candidates.candidate_json, '$.CandidateSteps') AS step;
    CREATE VIEW training_steps AS
        SELECT candidate_rowid AS seq, * FROM candidate_steps WHERE step_type = 'AWS::SageMaker::TrainingJob';
    CREATE VIEW transform_steps AS
        SELECT candidate_rowid AS seq, * FROM candidate_steps WHERE step_type = 'AWS::SageMaker::TransformJob';
    -- A processing step ran from its job's creation until the first candidate it led to.
    CREATE VIEW processing_steps AS
        SELECT MIN(candidate_steps.candidate_rowid) AS seq, candidate_steps.name, candidate_steps.name_key,
               candidate_steps.arn, candidate_steps.job_name, NULL AS candidate_name, 'Completed' AS status,
               jobs.creation_time AS creation_time, MIN(candidate_steps.creation_time) AS end_time,
               MIN(candidate_steps.creation_time) AS last_modified_time
        FROM candidate_steps JOIN jobs ON jobs.name = candidate_steps.job_name
        WHERE step_type = 'AWS::SageMaker::ProcessingJob'
        GROUP BY candidate_steps.name_key;
    """,
    # Endpoint data capture: the DataCaptureConfig of the config an endpoint serves (JSON, NULL:
    # none), and of the config an update is loading; they switch together with the variants.
    """
    ALTER TABLE endpoints ADD COLUMN data_capture_json TEXT;
    ALTER TABLE endpoints ADD COLUMN pending_data_capture_json TEXT;
    """,
)
