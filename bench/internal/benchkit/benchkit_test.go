package benchkit

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/strangler-proxy/strangler/internal/routing"
)

// The routes.yaml the checks write must be one strangler accepts, with the
// weight and upstream URL asked for; the checks themselves treat strangler
// as a black box, the test may use its loader.
func TestRoutesWriteIsValidConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routes.yaml")
	for _, weight := range []int{75, 25} {
		r := Routes{Backend: "http://127.0.0.1:9", Timeout: "5s", Weight: weight}
		if err := r.Write(path); err != nil {
			t.Fatal(err)
		}
		cfg, err := routing.LoadFile(path)
		if err != nil {
			t.Fatalf("weight %d: strangler rejects the config: %v", weight, err)
		}
		if len(cfg.Routes) != 100 {
			t.Fatalf("weight %d: %d routes, want 100", weight, len(cfg.Routes))
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "weight: "+strconv.Itoa(weight)+",") || !strings.Contains(string(data), r.Backend) {
			t.Fatalf("weight %d: file does not carry the weight and backend:\n%s", weight, data)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("temp files left beside routes.yaml: %v", entries)
	}
}

func TestReadMemoryAndSyscallsOfThisProcess(t *testing.T) {
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Fatalf("implausible memory %+v", m)
	}
	before, err := ReadSyscalls(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile("/proc/self/status"); err != nil {
		t.Fatal(err)
	}
	after, err := ReadSyscalls(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after.Reads <= before.Reads {
		t.Fatalf("reads did not grow: %+v then %+v", before, after)
	}
	if _, err := ReadMemory(-1); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}

func TestBackendStreamsBothWays(t *testing.T) {
	b, err := StartBackend()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	const size = 3<<20 + 7
	req, err := http.NewRequest(http.MethodPut, b.URL+"/upload", io.LimitReader(Pattern{}, size))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(body)) != strconv.Itoa(size) || b.Uploaded.Load() != size {
		t.Fatalf("upload: answer %q, counted %d, want %d", body, b.Uploaded.Load(), size)
	}
	resp, err = http.Get(b.URL + "/download?bytes=" + strconv.Itoa(size))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != size {
		t.Fatalf("download: %d bytes, %v; want %d", n, err, size)
	}
}
