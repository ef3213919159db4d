* An LP-LP with two integer leader variables in {0..4}, written with OBJSENSE MAX and a
* RANGES entry (0 <= x1 + x2 <= 6; the lower side is redundant):
*   max_{x,y} 2x1 - x2 + 3y1 + y2   s.t. x1 + x2 <= 6
*   y in argmax_y { -y1 - 2y2 : y1 + y2 >= 1, y1 - x1 <= 1.5, y2 + x2 >= 2,
*                               2y1 + y2 - x2 <= 2, y >= 0 }
NAME          IntegerLeaderMax
OBJSENSE
    MAX
ROWS
 N  profit
 L  budget
 G  cover
 L  cap1
 G  need2
 L  mix
COLUMNS
    MARKER    'MARKER'                 'INTORG'
    x1        profit    2
    x1        budget    1
    x1        cap1      -1
    x2        profit    -1
    x2        budget    1
    x2        need2     1
    x2        mix       -1
    MARKER    'MARKER'                 'INTEND'
    y1        profit    3
    y1        cover     1
    y1        cap1      1
    y1        mix       2
    y2        profit    1
    y2        cover     1
    y2        need2     1
    y2        mix       1
RHS
    RHS       budget    6
    RHS       cover     1
    RHS       cap1      1.5
    RHS       need2     2
    RHS       mix       2
RANGES
    RNG       budget    6
BOUNDS
 UP BND       x1        4
 UP BND       x2        4
ENDATA
