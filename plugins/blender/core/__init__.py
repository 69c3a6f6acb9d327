"""Pure logic of the Blender extension: time arithmetic, the OTIO job, take placement.

Nothing here imports ``bpy``: the host adapter (``..host``) reads strips into these plain
records, so every rule is unit-tested in the project's own Python too.
"""
