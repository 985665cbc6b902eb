"""Book recordings: the format, the writer, the reader and the Tardis import (docs/recording.md)."""
