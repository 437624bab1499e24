module ftpx

go 1.25
