"""The SageMaker operations of the local service, one module per resource family.

Each module holds a class whose methods are the family's operations, named as botocore names
client methods (CreateAutoMLJobV2 -> create_auto_ml_job_v2). ``SageMakerService`` (service.py)
combines them; the protocol layer (api/app.py) dispatches each operation to the method of its name.
What the families share (a missing resource's answer, create-and-tag, List summaries, declared
lookups of other families) is in base.py.
"""
