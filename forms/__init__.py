"""marshmallow schemas for every start form and task form, with field metadata (labels in zh
and en, help, widget) that the web renders generically."""
