"""Images: immutable service tags and their store map (tags), build inputs and their digest
(inputs), the offline base and build images (base, recipes/), the registry (registry) and
`runner gc` (gc). May import spec, store and adapters; never codebuild, codepipeline or
codedeploy.
"""
