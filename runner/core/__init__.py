"""What the three services share: the files users write and their vocabulary.

YAML loading with positions (yamlnodes), the declarative schema (schema), pipeline.yml's
model (config), schema (config_schema) and loader (config_loader), the duration grammar
(durations), the traffic-shift grammar (traffic), Docker engines by name (engines), the
image reference (image_ref), and the secrets file (secrets). Pure: imports only
runner.errors, runner.paths and the rule and mode grammars of runner.events and
runner.localaws that pipeline.yml carries.
"""
