"""config.yaml as typed, frozen, validated objects."""
