package db

import "testing"

func TestPSCombinations(t *testing.T) {
	for _, c := range []struct {
		types []string
		ok    bool
	}{
		{[]string{PSLocal}, true},
		{[]string{PSLocal, PSLocal}, true},
		{[]string{PSNFS, PSNFS}, true},
		{[]string{PSSMP}, true},
		{[]string{PSSMP, PSSMP}, false},
		{[]string{PSLocal, PSNFS}, true},
		{[]string{PSLocal, PSLocal, PSSMP}, true},
		{[]string{PSLocal, PSSMP, PSSMP}, false},
		{[]string{PSNFS, PSSMP}, false},
		{[]string{PSCeph}, true},
		{[]string{PSCeph, PSCeph}, false},
		{[]string{PSCeph, PSLocal}, false},
		{[]string{PSLocal, PSNFS, PSSMP}, false},
	} {
		if got := psCombinationOK(c.types); got != c.ok {
			t.Errorf("psCombinationOK(%v) = %v, want %v", c.types, got, c.ok)
		}
	}
}
