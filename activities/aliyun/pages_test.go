package aliyun

import (
	"errors"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/stretchr/testify/require"
)

// TestForPages walks 2.4 pages: it asks pages 1, 2, 3 with the page size
// and stops at the short one; an error stops the walk at once.
func TestForPages(t *testing.T) {
	total := 2*pageSize + pageSize/2
	var asked []string
	got := 0
	require.NoError(t, forPages(func(number, size requests.Integer) (int, error) {
		asked = append(asked, string(number)+"/"+string(size))
		n := min(pageSize, total-got)
		got += n
		return n, nil
	}))
	require.Equal(t, total, got)
	require.Equal(t, []string{"1/50", "2/50", "3/50"}, asked)

	boom := errors.New("boom")
	calls := 0
	err := forPages(func(requests.Integer, requests.Integer) (int, error) {
		calls++
		if calls == 2 {
			return 0, boom
		}
		return pageSize, nil
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, 2, calls)
}
