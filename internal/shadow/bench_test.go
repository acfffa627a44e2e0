package shadow

import (
	"fmt"
	"strings"
	"testing"
)

// catalog renders a ~2 KiB JSON product list. reordered writes the same
// document with keys in another order and numbers formatted differently.
func catalog(reordered bool) string {
	var items []string
	for i := range 12 {
		if reordered {
			items = append(items, fmt.Sprintf(`{"tags":["sale","new"],"stock":%de0,"price":%d.50,"name":"Product number %d","id":%d}`, i*3, 10+i, i, i))
		} else {
			items = append(items, fmt.Sprintf(`{"id":%d,"name":"Product number %d","price":%d.5,"stock":%d,"tags":["sale","new"]}`, i, i, 10+i, i*3))
		}
	}
	meta := `"meta":{"page":1,"per_page":12,"total":120}`
	return "{" + meta + `,"items":[` + strings.Join(items, ",") + "]}"
}

func BenchmarkCompare(b *testing.B) {
	a := js(catalog(false))
	for _, bc := range []struct {
		name   string
		shadow Response
		ignore []string
	}{
		{"same bytes", js(catalog(false)), nil},
		{"reordered", js(catalog(true)), nil},
		{"reordered with ignores", js(catalog(true)), []string{"body:$.items[*].stock", "body:$.meta.total"}},
	} {
		r := mustRules(b, bc.ignore...)
		if d := r.Compare(a, bc.shadow); len(d) != 0 {
			b.Fatalf("%s: documents differ: %q", bc.name, d)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(a.Body)))
			for b.Loop() {
				r.Compare(a, bc.shadow)
			}
		})
	}
}
