"""CodeBuild: everything that runs one buildspec, and batches of them.

The buildspec (model, schema, loader, checks), the phase state machine, the build loop (build, phases
in fresh containers through phase_runner), shell state, workspace, artifacts, reports,
cache, runtime-versions, secondary sources, `runner debug`, build control (requests, stop)
and batch builds. May import spec, images, store, adapters, localaws and the top-level
helpers; never codepipeline, codedeploy, triggers, web or commands.
"""
