import copy

from rest_framework import serializers


class ModelSerializerFieldsOnce(serializers.ModelSerializer):
    """A ModelSerializer that reads its model's metadata to build its fields once per class,
    not once per instance, and hands each instance a copy. Every order the API takes and every
    progress refresh serializes, and building the fields cost more than the serializing did."""

    def get_fields(self):
        built = type(self).__dict__.get("_fields_built")
        if built is None:  # two threads may both build it once: the same fields either way
            built = super().get_fields()
            type(self)._fields_built = built
        return copy.deepcopy(built)
