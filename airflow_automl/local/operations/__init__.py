"""The SageMaker operations of the local service, one module per resource family.

Each module holds a class whose methods are the family's operations, named as botocore names
client methods (CreateAutoMLJobV2 -> create_auto_ml_job_v2). ``SageMakerService`` (service.py)
combines them; the protocol layer (api.py) dispatches each operation to the method of its name.
"""
