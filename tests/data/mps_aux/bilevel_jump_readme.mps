* BilevelJuMP.jl README example (Dias Garcia, Bodin & Street), continuous LP-LP:
*   min_{x,y} 3y + x   s.t. 0 <= x <= 8,
*   y in argmin_y { -y : x + y <= 8, x + 4y >= 8, x + 2y <= 13, 2y - 7x <= 0, y <= 5 }
NAME          BilevelJuMPReadme
ROWS
 N  F
 L  l1
 G  l2
 L  l3
 L  l4
COLUMNS
    x         F         1
    x         l1        1
    x         l2        1
    x         l3        1
    x         l4        -7
    y         F         3
    y         l1        1
    y         l2        4
    y         l3        2
    y         l4        2
RHS
    RHS       l1        8
    RHS       l2        8
    RHS       l3        13
BOUNDS
 UP BND       x         8
 MI BND       y
 UP BND       y         5
ENDATA
