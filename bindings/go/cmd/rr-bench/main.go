// Command rr-bench measures the Go binding's cost per Route: it loads JSONL requests,
// routes them all `rounds` times through one Router and prints the median over rounds of
// the mean ns per route, as bench/bench_bindings.sh expects ("go <ns>").
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
	"time"

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
	r, err := routeright.NewFromFile(policy)
	if err != nil {
		return err
	}
	defer r.Close()
	reqs, err := load(requests)
	if err != nil {
		return err
	}
	for _, q := range reqs { // warm-up
		if _, err := r.Route(q); err != nil {
			return err
		}
	}
	per := make([]float64, 0, rounds)
	for i := 0; i < rounds; i++ {
		t0 := time.Now()
		for _, q := range reqs {
			if _, err := r.Route(q); err != nil {
				return err
			}
		}
		per = append(per, float64(time.Since(t0).Nanoseconds())/float64(len(reqs)))
	}
	sort.Float64s(per)
	fmt.Printf("go %.0f\n", per[len(per)/2])
	return nil
}
