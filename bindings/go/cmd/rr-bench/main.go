// Command rr-bench measures the Go binding's cost per Route: it loads JSONL requests,
// routes them all `rounds` times through one Router and prints the median over rounds of
// the mean process-CPU ns per route, as bench/bench_bindings.sh expects: "go <ns>" with the decision
// record, "go_norecord <ns>" with Options.SkipRecord.
//
//	rr-bench POLICY.json REQUESTS.jsonl ROUNDS
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"syscall"

	routeright "github.com/routeright/routeright/bindings/go"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: rr-bench POLICY.json REQUESTS.jsonl ROUNDS")
		os.Exit(2)
	}
	rounds, _ := strconv.Atoi(os.Args[3])
	if err := run(os.Args[1], os.Args[2], rounds); err != nil {
		fmt.Fprintln(os.Stderr, "rr-bench:", err)
		os.Exit(1)
	}
}

func load(path string) ([]routeright.Request, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var reqs []routeright.Request
	in := bufio.NewScanner(f)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	for in.Scan() {
		var q routeright.Request
		if err := json.Unmarshal(in.Bytes(), &q); err != nil {
			return nil, err
		}
		reqs = append(reqs, q)
	}
	return reqs, in.Err()
}

func run(policy, requests string, rounds int) error {
	reqs, err := load(requests)
	if err != nil {
		return err
	}
	for _, mode := range []struct {
		name string
		opts routeright.Options
	}{{"go", routeright.Options{}}, {"go_norecord", routeright.Options{SkipRecord: true}}} {
		ns, err := measure(policy, reqs, rounds, mode.opts)
		if err != nil {
			return err
		}
		fmt.Printf("%s %.0f\n", mode.name, ns)
	}
	return nil
}

// cpuNS is the process's CPU time (user + system), as the C and Python loops measure.
func cpuNS() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func measure(policy string, reqs []routeright.Request, rounds int, opts routeright.Options) (float64, error) {
	r, err := routeright.NewFromFile(policy, opts)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	sink := 0
	one := func() (float64, error) {
		t0 := cpuNS()
		for _, q := range reqs {
			d, err := r.Route(q)
			if err != nil {
				return 0, err
			}
			sink += len(d.Route) + len(d.Model) + len(d.Record)
		}
		return float64(cpuNS()-t0) / float64(len(reqs)), nil
	}
	if _, err := one(); err != nil { // warm-up
		return 0, err
	}
	per := make([]float64, 0, rounds)
	for i := 0; i < rounds; i++ {
		ns, err := one()
		if err != nil {
			return 0, err
		}
		per = append(per, ns)
	}
	sort.Float64s(per)
	if sink == 0 {
		return 0, fmt.Errorf("no decisions")
	}
	return per[len(per)/2], nil
}
