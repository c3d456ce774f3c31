"""CodePipeline: executions walking Source -> Build -> Deploy -> Test -> Approval stages
(execution), service builds with their skip decision (service_build), and crash repair of
builds, batches, deployments and executions (recovery). The one package that joins
codebuild and codedeploy; imported by triggers, web and commands, never by them.
"""
