package routeright

import (
	"errors"
	"sync"
	"testing"
)

func TestSchemaFindingsNameKeywordAndLocation(t *testing.T) {
	s, err := NewSchema([]byte(`{"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ok, err := s.Validate([]byte(`{"id": 3}`))
	if err != nil || !ok.Passed {
		t.Fatalf("valid instance: %+v %v", ok, err)
	}
	bad, err := s.Validate([]byte(`{"id": "x"}`))
	if err != nil || bad.Passed || bad.Failure != "schema" || len(bad.Findings) == 0 ||
		bad.Findings[0].Code != "type" || bad.Findings[0].InstanceLocation != "/id" {
		t.Fatalf("invalid instance: %+v %v", bad, err)
	}
	trunc, _ := s.Validate([]byte(`{"id": 3`))
	if trunc.Failure != "truncated" {
		t.Fatalf("truncated: %+v", trunc)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if v, err := s.Validate([]byte(`{"id": "x"}`)); err != nil || v.Passed {
					t.Error("concurrent validation differs")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestSchemaRegistryResolvesRemoteRefs(t *testing.T) {
	opts := &SchemaOptions{Registry: map[string][]byte{
		"https://example.com/id.json": []byte(`{"type": "integer"}`)}}
	s, err := NewSchema([]byte(`{"properties": {"id": {"$ref": "https://example.com/id.json"}}}`), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.Validate([]byte(`{"id": "x"}`)); v.Passed {
		t.Fatal("remote $ref not applied")
	}
	if _, err := NewSchema([]byte(`{"$ref": "https://example.com/none.json"}`), nil); !errors.Is(err, ErrSchema) {
		t.Fatalf("unresolvable $ref: %v", err)
	}
}

func TestInvalidSchemaIsESCHEMAAndClosedSchemaESTATE(t *testing.T) {
	if _, err := NewSchema([]byte(`{"type": 12}`), nil); !errors.Is(err, ErrSchema) {
		t.Fatalf("err %v", err)
	}
	s, _ := NewSchema([]byte(`true`), nil)
	s.Close()
	if _, err := s.Validate([]byte(`1`)); !errors.Is(err, ErrState) {
		t.Fatalf("after close: %v", err)
	}
	if LibraryVersionNumber() < 10000 {
		t.Fatal("version number")
	}
}
