package routing

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// emptyValues returns one error per key of routes.yaml written with no
// value (`weight:`, `weight: ~`, `weight: null`). yaml.v3 decodes such a
// key as if it were left out, so a half-finished edit would silently mean
// the default (an empty weight is 100: a full cutover), and a block whose
// children are all commented out would silently turn its feature off
// (`shadow:`). The walk follows the Config types beside the node tree, so
// every field is covered. Left to others: unknown keys (the decoder), and
// empty upstreams and routes (validate: "url is required", "empty route").
//
// One key may stay empty: routes. With every route commented out, all
// traffic goes back to legacy, which is the safe side; refusing it would
// keep the last table, cutover and all, serving during a rollback.
func emptyValues(file string, doc *yaml.Node) []error {
	w := emptyWalker{file: file}
	if len(doc.Content) > 0 {
		w.walk(doc.Content[0], reflect.TypeFor[Config](), "", nil)
	}
	return w.errs
}

type emptyWalker struct {
	file string
	errs []error
}

// walk checks the mapping fields under n, which decodes into t. label names
// the upstream or route n is in ("" at the top level) and keys the keys
// from there down to n.
func (w *emptyWalker) walk(n *yaml.Node, t reflect.Type, label string, keys []string) {
	n = resolve(n)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], resolve(n.Content[i+1])
			f, ok := fieldOf(t, k.Value)
			if !ok {
				continue // an unknown key: the decoder reports it
			}
			path := append(slices.Clip(keys), k.Value)
			if isNull(v) && !(label == "" && k.Value == "routes") {
				w.report(k.Line, label, path, f.Type)
				continue
			}
			w.walk(v, f.Type, label, path)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode: // upstreams
		for i := 0; i+1 < len(n.Content); i += 2 {
			w.walk(n.Content[i+1], t.Elem(), fmt.Sprintf("upstream %q", n.Content[i].Value), nil)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode: // routes
		for i, item := range n.Content {
			w.walk(item, t.Elem(), routeLabel(i, resolve(item)), nil)
		}
	}
}

// report adds the error for the empty key at the end of keys.
func (w *emptyWalker) report(line int, label string, keys []string, t reflect.Type) {
	msg := fmt.Sprintf("%s: is empty; %s", strings.Join(keys, "."), emptyHint(keys, t))
	if label != "" {
		msg = label + ": " + msg
	}
	w.errs = append(w.errs, &LineError{File: w.file, Line: line, Msg: msg})
}

// fieldOf returns the field of struct type t that the YAML key decodes into.
func fieldOf(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); f.IsExported() && name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// routeLabel names route item i as validate does: by its prefix when it
// has one.
func routeLabel(i int, item *yaml.Node) string {
	if item.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(item.Content); j += 2 {
			if v := resolve(item.Content[j+1]); item.Content[j].Value == "prefix" && v.Kind == yaml.ScalarNode && !isNull(v) && v.Value != "" {
				return fmt.Sprintf("route %q", v.Value)
			}
		}
	}
	return fmt.Sprintf("route %d", i+1)
}

// emptyHints says what to write instead of an empty key, for the keys
// (dotted from the upstream or route they are in) whose type alone does
// not say enough. Top-level, upstream and route keys do not overlap.
var emptyHints = map[string]string{
	"legacy":         "name the upstream that serves every request no route moves",
	"upstreams":      "list the upstreams, the legacy one at least",
	"url":            "give a base URL such as http://127.0.0.1:8080",
	"targets":        "give a list of base URLs",
	"prefix":         "give a path such as /api/orders",
	"service":        "name the upstream the route moves requests to",
	"weight":         "give a number from 0 to 100",
	"name":           "give a name, or leave the key out to name the route after its prefix",
	"sticky":         "give header:NAME or cookie:NAME, or leave the key out",
	"shadow.percent": "give a number from 0 to 100, or leave the key out for 100",
}

// emptyHint says what to write instead of the empty key at the end of keys,
// whose value decodes into t.
func emptyHint(keys []string, t reflect.Type) string {
	if h, ok := emptyHints[strings.Join(keys, ".")]; ok {
		return h
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "give a duration such as 5s, or leave the key out for the default"
	case t == reflect.TypeFor[ByteSize]():
		return "give a size such as 1MiB, or leave the key out"
	case t.Kind() == reflect.Struct:
		return fmt.Sprintf("write %s: {} for the defaults", keys[len(keys)-1])
	case t.Kind() == reflect.Bool:
		return "give true or false, or leave the key out for the default"
	case t.Kind() == reflect.Int:
		return "give a whole number, or leave the key out for the default"
	case t.Kind() == reflect.Float64:
		return "give a number, or leave the key out for the default"
	case t.Kind() == reflect.Slice:
		return "give a list, or leave the key out"
	}
	return "give a value, or leave the key out"
}
