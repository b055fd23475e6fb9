package hotbench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/loadgen"
)

// clockTicks is the unit of utime and stime in /proc/<pid>/stat (USER_HZ): 100 on
// every Linux the project runs on; reading it needs sysconf, which needs cgo.
const clockTicks = 100

// CPUSource reads one component's CPU time used so far.
type CPUSource struct {
	Name string
	Read func() (time.Duration, error)
}

// Meter reads the CPU time of every component at once.
type Meter struct {
	Sources []CPUSource
}

// CPUSnapshot is each component's CPU time at one moment; a component that could
// not be read is missing.
type CPUSnapshot map[string]time.Duration

// Snapshot reads every source.
func (m *Meter) Snapshot() CPUSnapshot {
	s := CPUSnapshot{}
	for _, src := range m.Sources {
		if d, err := src.Read(); err == nil {
			s[src.Name] = d
		}
	}
	return s
}

// PerThousand is the CPU seconds each component used from a to b per 1,000 holds;
// nil when holds is not positive.
func PerThousand(a, b CPUSnapshot, holds int64) map[string]float64 {
	if holds <= 0 {
		return nil
	}
	out := map[string]float64{}
	for name, end := range b {
		if start, ok := a[name]; ok {
			out[name] = round4((end - start).Seconds() * 1000 / float64(holds))
		}
	}
	return out
}

// ProcessCPU reads a process's utime+stime from /proc/<pid>/stat.
func ProcessCPU(pid int) (time.Duration, error) {
	st, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return st.cpu(), nil
}

// procStat is the part of /proc/<pid>/stat the meter uses.
type procStat struct {
	comm                         string
	ppid                         int
	utime, stime, cutime, cstime int64 // clock ticks
}

func (s procStat) cpu() time.Duration { return ticks(s.utime + s.stime) }

func ticks(n int64) time.Duration { return time.Duration(n) * time.Second / clockTicks }

func readStat(pid int) (procStat, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(raw)
}

// parseStat parses /proc/<pid>/stat: the command name is in parentheses and may
// hold spaces and parentheses itself, so the fields are counted from the last ')'.
func parseStat(raw []byte) (procStat, error) {
	open, end := bytes.IndexByte(raw, '('), bytes.LastIndexByte(raw, ')')
	if open < 0 || end < open {
		return procStat{}, errors.New("stat: no command name")
	}
	f := strings.Fields(string(raw[end+1:]))
	// f[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("stat: %d fields", len(f))
	}
	st := procStat{comm: string(raw[open+1 : end])}
	nums := []*int64{&st.utime, &st.stime, &st.cutime, &st.cstime}
	for i, p := range nums {
		v, err := strconv.ParseInt(f[11+i], 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("stat field %d: %w", 14+i, err)
		}
		*p = v
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("stat ppid: %w", err)
	}
	st.ppid = ppid
	return st, nil
}

// CgroupCPU is the CPU source of the cgroup process pid is in (a container's):
// cgroup v2's cpu.stat usage_usec, or cgroup v1's cpuacct.usage. It fails when the
// cgroup is the root or cannot be read, e.g. when Docker runs elsewhere.
func CgroupCPU(pid int) (func() (time.Duration, error), error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || parts[2] == "/" {
			continue
		}
		var files []string
		switch {
		case parts[0] == "0" && parts[1] == "":
			files = []string{filepath.Join("/sys/fs/cgroup", parts[2], "cpu.stat")}
		case hasController(parts[1], "cpuacct"):
			for _, dir := range []string{"cpuacct", "cpu,cpuacct", "cpuacct,cpu"} {
				files = append(files, filepath.Join("/sys/fs/cgroup", dir, parts[2], "cpuacct.usage"))
			}
		default:
			continue
		}
		for _, file := range files {
			read := func() (time.Duration, error) { return readCgroupUsage(file) }
			if _, err := read(); err == nil {
				return read, nil
			}
		}
	}
	return nil, fmt.Errorf("no readable cpu cgroup for pid %d", pid)
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// readCgroupUsage reads cpu.stat's usage_usec (v2) or cpuacct.usage in ns (v1).
func readCgroupUsage(file string) (time.Duration, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	if filepath.Base(file) == "cpuacct.usage" {
		ns, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		return time.Duration(ns), err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
			us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return time.Duration(us) * time.Microsecond, err
		}
	}
	return 0, fmt.Errorf("%s: no usage_usec", file)
}

// TreeCPU is the CPU of process root and every descendant alive, plus what root
// has collected of its exited children: the fallback for a container whose cgroup
// cannot be read.
func TreeCPU(root int) (time.Duration, error) {
	st, err := readStat(root)
	if err != nil {
		return 0, err
	}
	all, err := allStats()
	if err != nil {
		return 0, err
	}
	total := st.cpu() + ticks(st.cutime+st.cstime)
	for pid, s := range all {
		if pid != root && descends(pid, root, all) {
			total += s.cpu()
		}
	}
	return total, nil
}

// descendsDepthMax bounds the walk up a process's ancestors.
const descendsDepthMax = 64

func descends(pid, root int, all map[int]procStat) bool {
	for range descendsDepthMax {
		s, ok := all[pid]
		if !ok || s.ppid <= 1 {
			return false
		}
		if s.ppid == root {
			return true
		}
		pid = s.ppid
	}
	return false
}

// NamedCPU sums the CPU of every process named comm (docker-proxy: one per
// published port). Processes that exited during a window take their CPU with them.
func NamedCPU(comm string) (time.Duration, error) {
	all, err := allStats()
	if err != nil {
		return 0, err
	}
	var total time.Duration
	for _, s := range all {
		if s.comm == comm {
			total += s.cpu()
		}
	}
	return total, nil
}

// allStatsMax bounds the processes read in one scan.
const allStatsMax = 100_000

func allStats() (map[int]procStat, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	out := map[int]procStat{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || len(out) >= allStatsMax {
			continue
		}
		if st, err := readStat(pid); err == nil {
			out[pid] = st
		}
	}
	return out, nil
}

// SelfSource is the CPU of this process: the load generator (and the rig's own
// reads, which are small beside it).
func SelfSource() CPUSource {
	return CPUSource{Name: CompGenerator, Read: func() (time.Duration, error) { return loadgen.SelfCPU(), nil }}
}
