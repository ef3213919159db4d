* The example of MibS's input-format documentation (coin-or.github.io/MibS/input.html):
*   min -x - 7y  s.t. -3x + 2y <= 12, x + 2y <= 20, x <= 10,
*   y in argmin { z : 2x - z <= 7, -2x + 4z <= 16, z <= 5 },  x, y integer, >= 0
NAME generalExample
ROWS
 L  R0
 L  R1
 L  R2
 L  R3
 N  R4
COLUMNS
    INT1 'MARKER' 'INTORG'
    C0   R0       -3
    C0   R1       1
    C0   R2       2
    C0   R3       -2
    C0   R4       -1
    C1   R0       2
    C1   R1       2
    C1   R2       -1
    C1   R3       4
    C1   R4       -7
    INT1END 'MARKER' 'INTEND'
RHS
    B    R0       12
    B    R1       20
    B    R2       7
    B    R3       16
BOUNDS
 UP BOUND C0      10
 UP BOUND C1      5
ENDATA
