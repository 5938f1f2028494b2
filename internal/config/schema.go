package config

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

// SchemaID is the $id of the generated JSON Schema.
const SchemaID = "https://github.com/deployment-automator/automator/schema/automator.schema.json"

// Schema returns the JSON Schema (draft 2020-12) of automator.yaml, generated
// from the Go types so that it cannot drift from what the decoder accepts.
func Schema() ([]byte, error) {
	s := schemaFor(reflect.TypeOf(Config{}))
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = SchemaID
	s["title"] = "automator.yaml"
	s["description"] = "Configuration of Deployment Automator (automator)."
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func schemaFor(t reflect.Type) map[string]any {
	switch t.Kind() {
	case reflect.Pointer:
		return schemaFor(t.Elem())
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		for _, f := range structFields(t) {
			ps := schemaFor(t.Field(f.index).Type)
			if f.doc != "" {
				ps["description"] = f.doc
			}
			if f.def != "" {
				ps["default"] = defaultValue(t.Field(f.index).Type, f.def)
			}
			if len(f.enum) > 0 {
				ps["enum"] = f.enum
			}
			if len(f.enumItem) > 0 {
				ps["items"] = map[string]any{"type": "string", "enum": f.enumItem}
			}
			if f.pattern != "" {
				ps["pattern"] = f.pattern
			}
			if f.minimum != nil {
				ps["minimum"] = *f.minimum
			}
			props[f.key] = ps
			if f.required {
				required = append(required, f.key)
			}
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaFor(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaFor(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	}
	panic("config: no schema for " + t.String())
}

func defaultValue(t reflect.Type, def string) any {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		n, _ := strconv.Atoi(def)
		return n
	case reflect.Bool:
		return def == "true"
	case reflect.Slice:
		return strings.Split(def, ",")
	}
	return def
}
