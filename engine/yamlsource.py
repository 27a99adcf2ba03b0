"""Engine input files (controls, profiles, frameworks) read with `assay.yamlsource`.

The shared reader's errors become ConfigError here, so the CLI reports them like every
other configuration problem (exit 2, file:line: field: message).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from assay import yamlsource
from assay.engine.errors import ConfigError, ConfigErrors
from assay.yamlsource import YamlSourceError, dotted


class YamlDocument(yamlsource.YamlDocument):
    @property
    def path(self) -> Path:
        return Path(self.source)

    def error(
        self, message: str, location: Sequence[str | int] = (), remediation: str | None = None
    ) -> ConfigError:
        return ConfigError(
            message,
            file=self.path,
            line=self.line(location),
            field=dotted(location) or None,
            remediation=remediation,
        )

    def schema_errors(self, schema: dict[str, object]) -> ConfigErrors | None:
        """Every way the document breaks `schema`, or None when it conforms."""
        errors = [self.error(msg, loc) for loc, msg in yamlsource.schema_problems(schema, self)]
        return ConfigErrors(errors) if errors else None


def read_yaml(path: Path, text: str | None = None) -> YamlDocument:
    """Parse one YAML document (from `text` if given, else the file)."""
    try:
        doc = yamlsource.read_yaml(path) if text is None else yamlsource.parse_yaml(text, str(path))
    except YamlSourceError as exc:
        raise ConfigError(exc.message, file=path, line=exc.line, field=exc.field or None) from None
    return YamlDocument(doc.source, doc.data, doc.lines)
