package benchkit

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// MiB is one mebibyte.
const MiB = 1 << 20

// Memory is a process's resident memory as /proc/PID/status reports it.
type Memory struct {
	// RSS is VmRSS: resident now, in bytes.
	RSS int64
	// Peak is VmHWM: the largest RSS since the process started, in bytes.
	Peak int64
}

// ReadMemory reads VmRSS and VmHWM of pid.
func ReadMemory(pid int) (Memory, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	f, err := os.Open(path)
	if err != nil {
		return Memory{}, fmt.Errorf("read memory: %w", err)
	}
	defer f.Close()
	var m Memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		fields := strings.Fields(rest) // "12345 kB"
		if len(fields) != 2 || fields[1] != "kB" {
			return Memory{}, fmt.Errorf("%s: unexpected %s line %q", path, key, sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("%s: %s: %w", path, key, err)
		}
		if key == "VmRSS" {
			m.RSS = kb << 10
		} else {
			m.Peak = kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		return Memory{}, fmt.Errorf("%s: %w", path, err)
	}
	if m.RSS == 0 || m.Peak == 0 {
		return Memory{}, fmt.Errorf("%s: no VmRSS/VmHWM", path)
	}
	return m, nil
}

// OpenFiles counts the open file descriptors of pid.
func OpenFiles(pid int) (int, error) {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("count open files: %w", err)
	}
	return len(entries), nil
}

// Syscalls are a process's read and write system call counts, from
// /proc/PID/io (syscr, syscw): every read-family and write-family call,
// sockets included.
type Syscalls struct {
	// Reads counts read, readv, recvfrom and the like.
	Reads int64
	// Writes counts write, writev, sendto and the like.
	Writes int64
}

// ReadSyscalls reads the system call counts of pid.
func ReadSyscalls(pid int) (Syscalls, error) {
	path := fmt.Sprintf("/proc/%d/io", pid)
	data, err := os.ReadFile(path)
	if err != nil {
		return Syscalls{}, fmt.Errorf("read system call counts: %w", err)
	}
	var s Syscalls
	var seen int
	for _, line := range strings.Split(string(data), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok || (key != "syscr" && key != "syscw") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return Syscalls{}, fmt.Errorf("%s: %s: %w", path, key, err)
		}
		if key == "syscr" {
			s.Reads = n
		} else {
			s.Writes = n
		}
		seen++
	}
	if seen != 2 {
		return Syscalls{}, fmt.Errorf("%s: no syscr/syscw", path)
	}
	return s, nil
}
