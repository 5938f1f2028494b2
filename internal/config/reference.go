package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Reference renders the configuration reference as a Markdown table (key
// path, type, default, description), generated from the Go types like the
// JSON Schema so that README cannot drift from what the decoder accepts.
func Reference() string {
	var b strings.Builder
	b.WriteString("| key | type | default | description |\n|---|---|---|---|\n")
	writeReference(&b, reflect.TypeOf(Config{}), "")
	return b.String()
}

func writeReference(b *strings.Builder, t reflect.Type, prefix string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for _, f := range structFields(t) {
		ft := t.Field(f.index).Type
		key := prefix + f.key
		def := f.def
		if def != "" {
			def = "`" + strings.ReplaceAll(def, "|", "\\|") + "`"
		}
		doc := f.doc
		if len(f.enum) > 0 {
			doc += " One of: " + strings.Join(f.enum, ", ") + "."
		}
		if f.required {
			doc = "**Required.** " + doc
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", key, typeName(ft), def, strings.ReplaceAll(doc, "|", "\\|"))
		elem := ft
		for elem.Kind() == reflect.Pointer {
			elem = elem.Elem()
		}
		switch {
		case elem.Kind() == reflect.Struct:
			writeReference(b, elem, key+".")
		case elem.Kind() == reflect.Slice && elem.Elem().Kind() == reflect.Struct:
			writeReference(b, elem.Elem(), key+"[].")
		}
	}
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Struct:
		return "object"
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	case reflect.Map:
		return "map of " + typeName(t.Elem())
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	}
	return "string"
}
