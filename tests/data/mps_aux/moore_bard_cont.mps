* Moore & Bard (1990), Example 1, with the follower relaxed to continuous (y >= 0 real);
* the leader x >= 0 stays integer. Rows in a different order than the integer file.
NAME          moore-and-bard-cont
ROWS
 G  lower4
 N  upperobj
 L  lower1
 L  lower2
 L  lower3
COLUMNS
    INT1      'MARKER'                 'INTORG'
    x         upperobj  -1
    x         lower1    -25
    x         lower2    1
    x         lower3    2
    x         lower4    2
    INT1END   'MARKER'                 'INTEND'
    y         upperobj  -10
    y         lower1    20
    y         lower2    2
    y         lower3    -1
    y         lower4    10
RHS
    B         lower1    30
    B         lower2    10
    B         lower3    15
    B         lower4    15
BOUNDS
 LI BOUND     x         0
ENDATA
