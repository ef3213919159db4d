* Moore & Bard (1990), Oper. Res. 38(5), Example 1: integer leader x, integer follower y.
*   min_{x,y} -x - 10 y   s.t.  y in argmin_y { y : -25x + 20y <= 30, x + 2y <= 10,
*                                                  2x - y <= 15, 2x + 10y >= 15, y >= 0 int },
*   x >= 0 integer.  Layout as in the idol solver's BOBILib example (without its
*   __constant column).
NAME          moore-and-bard-int
ROWS
 N  OBJ
 L  c_2
 L  c_3
 L  c_4
 G  c_5
COLUMNS
    MARKER    'MARKER'                 'INTORG'
    x         OBJ       -1
    x         c_2       -25
    x         c_3       1
    x         c_4       2
    x         c_5       2
    y         OBJ       -10
    y         c_2       20
    y         c_3       2
    y         c_4       -1
    y         c_5       10
    MARKER    'MARKER'                 'INTEND'
RHS
    RHS       c_2       30
    RHS       c_3       10
    RHS       c_4       15
    RHS       c_5       15
BOUNDS
 LI BND       x         0
 LI BND       y         0
ENDATA
