package routing

import (
	"errors"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestShadowIgnoreEntryLines checks that each bad shadow.ignore entry of a
// block list is reported at its own line, as shadow.headers entries are,
// and nothing at the ignore key's line.
func TestShadowIgnoreEntryLines(t *testing.T) {
	data := shadowYAML(
		"ignore:",                    // line 10
		"  - header:Date",            // line 11
		"  - foo:bar",                // line 12
		`  - "body:$.items[*].etag"`, // line 13
		"  - body:items",             // line 14
		"  - {a: 1}",                 // line 15
		"  -",                        // line 16
	)
	_, err := Load("inline.yaml", []byte(data))
	want := []string{
		`inline.yaml:12: shadow.ignore[1] "foo:bar": unknown kind "foo"`,
		`inline.yaml:14: shadow.ignore[3] "body:items": path "items" must start with "$"`,
		`inline.yaml:15: shadow.ignore[4]: want an entry such as header:Date`,
		`inline.yaml:16: shadow.ignore[5]: want an entry such as header:Date`,
	}
	msgs := leafErrors(err)
	ok := len(msgs) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(msgs[i].Error(), want[i])
	}
	if !ok {
		t.Fatalf("Load:\n%v\nwant one message per bad entry, at its line:\n%s", err, strings.Join(want, "\n"))
	}

	_, err = Load("inline.yaml", []byte(shadowYAML("ignore: header:Date")))
	if err == nil || !strings.Contains(err.Error(), "inline.yaml:10: shadow.ignore must be a list") {
		t.Errorf("ignore: header:Date (not a list): %v, want an error at line 10", err)
	}
	cfg, err := Load("inline.yaml", []byte(shadowYAML("ignore:", "  - header:Date", `  - "body:$.items[*].etag"`)))
	if err != nil || len(cfg.Routes[0].Shadow.Ignore) != 2 {
		t.Errorf("good ignore entries: %v, %+v", err, cfg)
	}
}

// TestValidateShadowMethods checks that a shadow method the route's own
// methods exclude (it would never be copied) is an error at its line, or
// at the shadow key for the default methods, and that HEAD passes on a
// route that serves GET. The methods are given as applyDefaults leaves
// them (upper-cased, the default filled in); the YAML gives the lines.
func TestValidateShadowMethods(t *testing.T) {
	for _, tc := range []struct {
		name          string
		route         string   // the route's methods in the YAML
		shadow        []string // the shadow block's lines
		routeMethods  []string
		shadowMethods []string
		want          []string
	}{
		{"listed method the route excludes", "[GET, POST]", []string{"methods:", "  - post", "  - DELETE"},
			[]string{"GET", "POST"}, []string{"POST", "DELETE"},
			[]string{`inline.yaml:12: route "/api/items": shadow method "DELETE" is never copied: the route serves only GET, POST`}},
		{"default methods on a POST route", "[POST]", nil, []string{"POST"}, []string{"GET", "HEAD"}, []string{
			`inline.yaml:9: route "/api/items": shadow method "GET" is never copied: the route serves only POST`,
			`inline.yaml:9: route "/api/items": shadow method "HEAD" is never copied: the route serves only POST`,
		}},
		{"default methods on a GET route", "[GET]", nil, []string{"GET"}, []string{"GET", "HEAD"}, nil},
		{"route with every method", "", []string{"methods: [POST, DELETE]"}, nil, []string{"POST", "DELETE"}, nil},
		{"listed methods all served", "[PUT, PATCH]", []string{"methods: [PATCH, PUT]"}, []string{"PUT", "PATCH"}, []string{"PATCH", "PUT"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var root yaml.Node
			if err := yaml.Unmarshal([]byte(shadowYAMLWithMethods(tc.route, tc.shadow)), &root); err != nil {
				t.Fatal(err)
			}
			at := newLines("inline.yaml", root.Content[0])
			var errs []error
			validateShadowMethods(`route "/api/items"`, []any{"routes", 0}, tc.routeMethods, &ShadowConfig{Methods: tc.shadowMethods},
				func(p []any, format string, args ...any) { errs = append(errs, at.errorf(p, format, args...)) })
			ok := len(errs) == len(tc.want)
			for i := 0; ok && i < len(tc.want); i++ {
				ok = strings.HasPrefix(errs[i].Error(), tc.want[i])
			}
			if !ok {
				t.Errorf("got:\n%v\nwant:\n%s", errors.Join(errs...), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// shadowYAMLWithMethods is shadowYAML(shadow...) with the route's methods
// (a flow list; "" for none) after the shadow block, so that the shadow
// key stays on line 9 and its own lines start at line 10.
func shadowYAMLWithMethods(methods string, shadow []string) string {
	data := shadowYAML(shadow...)
	if methods != "" {
		data += "    methods: " + methods + "\n"
	}
	return data
}

// TestShadowMethodsOutsideRouteMethods checks, through Load, that shadow
// methods the route itself never serves are refused at their line, and
// that the default [GET, HEAD] stays valid on a GET-only route.
func TestShadowMethodsOutsideRouteMethods(t *testing.T) {
	_, err := Load("inline.yaml", []byte(shadowYAMLWithMethods("[GET, POST]", []string{"methods:", "  - post", "  - DELETE"})))
	if err == nil || !strings.Contains(err.Error(), `inline.yaml:12: route "/api/items": shadow method "DELETE" is never copied`) {
		t.Fatalf("Load: %v, want DELETE refused at line 12", err)
	}
	if _, err := Load("inline.yaml", []byte(shadowYAMLWithMethods("[GET]", nil))); err != nil {
		t.Errorf("default shadow methods on a GET route: %v", err)
	}
}
