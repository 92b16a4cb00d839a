module github.com/routeright/routeright/bindings/go

go 1.19
