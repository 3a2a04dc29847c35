"""The SageMaker API: AWS's JSON protocol and SigV4 signatures over slipway's services."""
