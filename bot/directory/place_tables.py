"""Hand-written gazetteer tables: council aliases, counties and areas, nations."""

from __future__ import annotations

COUNCIL_RANK = 0.84  # base score of a council name (City 0.90, Town 0.86, Village 0.70)

# Council name suffixes and prefixes users type ("Leeds City Council").
COUNCIL_SUFFIXES = (
    "council",
    "city council",
    "borough council",
    "district council",
    "county council",
    "county borough council",
    "metropolitan borough council",
    "metropolitan district council",
    "borough",
    "district",
    "city",
)
COUNCIL_PREFIXES = ("city of", "london borough of", "royal borough of", "borough of")

# Short or other-language names for councils that the data does not carry.
# name -> (LAD name as in local_authorities.csv, base score)
COUNCIL_ALIASES: dict[str, tuple[str, float]] = {
    "richmond": ("Richmond upon Thames", COUNCIL_RANK),
    "kingston": ("Kingston upon Thames", 0.80),
    "hull": ("Kingston upon Hull, City of", 0.90),
    "stoke": ("Stoke-on-Trent", 0.88),
    "newcastle": ("Newcastle upon Tyne", 0.90),
    "newcastle under lyme": ("Newcastle-under-Lyme", COUNCIL_RANK),
    "brighton": ("Brighton and Hove", 0.90),
    "southend": ("Southend-on-Sea", 0.88),
    "bcp": ("Bournemouth, Christchurch and Poole", COUNCIL_RANK),
    "banes": ("Bath and North East Somerset", COUNCIL_RANK),
    "b and nes": ("Bath and North East Somerset", COUNCIL_RANK),
    "rct": ("Rhondda Cynon Taf", COUNCIL_RANK),
    "east riding": ("East Riding of Yorkshire", COUNCIL_RANK),
    "the wirral": ("Wirral", COUNCIL_RANK),
    "merthyr": ("Merthyr Tydfil", COUNCIL_RANK),
    "ynys mon": ("Isle of Anglesey", COUNCIL_RANK),
    "sir ynys mon": ("Isle of Anglesey", COUNCIL_RANK),
    "sir gar": ("Carmarthenshire", COUNCIL_RANK),
    "iow": ("Isle of Wight", COUNCIL_RANK),
    "wilts": ("Wiltshire", COUNCIL_RANK),
    "salop": ("Shropshire", COUNCIL_RANK),
    "bucks": ("Buckinghamshire", COUNCIL_RANK),
    "co durham": ("County Durham", COUNCIL_RANK),
    "north yorks": ("North Yorkshire", COUNCIL_RANK),
    "n yorks": ("North Yorkshire", COUNCIL_RANK),
    "north down": ("Ards and North Down", COUNCIL_RANK),
    "fermanagh": ("Fermanagh and Omagh", COUNCIL_RANK),
    "glaschu": ("Glasgow City", COUNCIL_RANK),
    "dun eideann": ("City of Edinburgh", COUNCIL_RANK),
    "obar dheathain": ("Aberdeen City", COUNCIL_RANK),
    "dun de": ("Dundee City", COUNCIL_RANK),
    "fiobha": ("Fife", COUNCIL_RANK),
    "a ghaidhealtachd": ("Highland", COUNCIL_RANK),
    "earra ghaidheal is bod": ("Argyll and Bute", COUNCIL_RANK),
    "sruighlea": ("Stirling", COUNCIL_RANK),
    "na h eileanan an iar": ("Na h-Eileanan Siar", COUNCIL_RANK),
    # historic counties within one council now
    "sutherland": ("Highland", 0.80),
    "caithness": ("Highland", COUNCIL_RANK),
    "nairnshire": ("Highland", COUNCIL_RANK),
    "morayshire": ("Moray", COUNCIL_RANK),
    "elginshire": ("Moray", COUNCIL_RANK),
    "kinross shire": ("Perth and Kinross", COUNCIL_RANK),
    "peeblesshire": ("Scottish Borders", COUNCIL_RANK),
    "roxburghshire": ("Scottish Borders", COUNCIL_RANK),
    "berwickshire": ("Scottish Borders", COUNCIL_RANK),
    "selkirkshire": ("Scottish Borders", COUNCIL_RANK),
    "the borders": ("Scottish Borders", COUNCIL_RANK),
    "dumfriesshire": ("Dumfries and Galloway", COUNCIL_RANK),
    "kirkcudbrightshire": ("Dumfries and Galloway", COUNCIL_RANK),
    "wigtownshire": ("Dumfries and Galloway", COUNCIL_RANK),
    "galloway": ("Dumfries and Galloway", COUNCIL_RANK),
    "cardiganshire": ("Ceredigion", COUNCIL_RANK),
    "sir aberteifi": ("Ceredigion", COUNCIL_RANK),
    "montgomeryshire": ("Powys", COUNCIL_RANK),
    "radnorshire": ("Powys", COUNCIL_RANK),
    "brecknockshire": ("Powys", COUNCIL_RANK),
    "breconshire": ("Powys", COUNCIL_RANK),
    "sir frycheiniog": ("Powys", COUNCIL_RANK),
    # islands and districts people name instead of their council
    "skye": ("Highland", COUNCIL_RANK),
    "isle of skye": ("Highland", COUNCIL_RANK),
    "lochaber": ("Highland", COUNCIL_RANK),
    "arran": ("North Ayrshire", COUNCIL_RANK),
    "isle of arran": ("North Ayrshire", COUNCIL_RANK),
    "mull": ("Argyll and Bute", COUNCIL_RANK),
    "isle of mull": ("Argyll and Bute", COUNCIL_RANK),
    "islay": ("Argyll and Bute", COUNCIL_RANK),
    "isle of lewis": ("Na h-Eileanan Siar", COUNCIL_RANK),
    "isle of harris": ("Na h-Eileanan Siar", COUNCIL_RANK),
    "gower": ("Swansea", COUNCIL_RANK),
    "the potteries": ("Stoke-on-Trent", COUNCIL_RANK),
    "brum": ("Birmingham", COUNCIL_RANK),
}

# Short forms of town names: alias -> the place's name in places.csv.
PLACE_ALIASES: dict[str, str] = {
    "sutton coldfield": "Royal Sutton Coldfield",
    "clacton": "Clacton-on-Sea",
    "burton": "Burton upon Trent",
    "burton on trent": "Burton upon Trent",
    "bognor": "Bognor Regis",
    "hemel": "Hemel Hempstead",
    "ashby": "Ashby-de-la-Zouch",
    "stratford on avon": "Stratford-upon-Avon",
}

# mySociety alternative names that are fragments, not names.
BAD_ALT_NAMES = {"county of", "eilean", "taff", "cynon", "ynys mn"}

# Areas that are not councils: two-tier counties beyond the data's own, ceremonial
# and historic counties, metropolitan counties, NI counties, postal abbreviations.
# display name -> (names users type, member LAD names or "county:<county_name>").
# A mention of one is a "county" candidate covering every member LAD, and a qualifier
# for places in those LADs ("Newport, Gwent", "St Ives, Cambs").
AREAS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Greater London": (("london", "greater london"), ("prefix:E09",)),
    "the Lake District": (
        ("lake district", "the lakes"),
        ("Cumberland", "Westmorland and Furness"),
    ),
    "the Black Country": (
        ("black country",),
        ("Dudley", "Sandwell", "Walsall", "Wolverhampton"),
    ),
    "Teesside": (
        ("teesside",),
        ("Middlesbrough", "Stockton-on-Tees", "Redcar and Cleveland", "Hartlepool"),
    ),
    "North Wales": (
        ("north wales",),
        (
            "Isle of Anglesey",
            "Gwynedd",
            "Conwy",
            "Denbighshire",
            "Flintshire",
            "Wrexham",
        ),
    ),
    "South Wales": (
        ("south wales",),
        (
            "Cardiff",
            "Swansea",
            "Newport",
            "Vale of Glamorgan",
            "Bridgend",
            "Rhondda Cynon Taf",
            "Merthyr Tydfil",
            "Caerphilly",
            "Blaenau Gwent",
            "Torfaen",
            "Monmouthshire",
            "Neath Port Talbot",
        ),
    ),
    "Mid Wales": (("mid wales",), ("Powys", "Ceredigion")),
    "West Wales": (
        ("west wales",),
        ("Pembrokeshire", "Carmarthenshire", "Ceredigion"),
    ),
    "Greater Manchester": (
        ("greater manchester", "gtr manchester"),
        (
            "Bolton",
            "Bury",
            "Manchester",
            "Oldham",
            "Rochdale",
            "Salford",
            "Stockport",
            "Tameside",
            "Trafford",
            "Wigan",
        ),
    ),
    "Merseyside": (
        ("merseyside",),
        ("Knowsley", "Liverpool", "St. Helens", "Sefton", "Wirral"),
    ),
    "South Yorkshire": (
        ("south yorkshire", "s yorks", "south yorks"),
        ("Barnsley", "Doncaster", "Rotherham", "Sheffield"),
    ),
    "West Yorkshire": (
        ("west yorkshire", "w yorks", "west yorks"),
        ("Bradford", "Calderdale", "Kirklees", "Leeds", "Wakefield"),
    ),
    "Yorkshire": (
        ("yorkshire", "yorks"),
        (
            "North Yorkshire",
            "York",
            "East Riding of Yorkshire",
            "Kingston upon Hull, City of",
            "Barnsley",
            "Doncaster",
            "Rotherham",
            "Sheffield",
            "Bradford",
            "Calderdale",
            "Kirklees",
            "Leeds",
            "Wakefield",
            "Middlesbrough",
            "Redcar and Cleveland",
        ),
    ),
    "Tyne and Wear": (
        ("tyne and wear", "tyneside"),
        (
            "Gateshead",
            "Newcastle upon Tyne",
            "North Tyneside",
            "South Tyneside",
            "Sunderland",
        ),
    ),
    "West Midlands": (
        ("west midlands",),
        (
            "Birmingham",
            "Coventry",
            "Dudley",
            "Sandwell",
            "Solihull",
            "Walsall",
            "Wolverhampton",
        ),
    ),
    "Berkshire": (
        ("berkshire", "berks"),
        (
            "Bracknell Forest",
            "Reading",
            "Slough",
            "West Berkshire",
            "Windsor and Maidenhead",
            "Wokingham",
        ),
    ),
    "Bedfordshire": (
        ("bedfordshire", "beds"),
        ("Bedford", "Central Bedfordshire", "Luton"),
    ),
    "Cheshire": (
        ("cheshire",),
        ("Cheshire East", "Cheshire West and Chester", "Halton", "Warrington"),
    ),
    "Cumbria": (("cumbria",), ("Cumberland", "Westmorland and Furness")),
    "Avon": (
        ("avon",),
        (
            "Bath and North East Somerset",
            "Bristol, City of",
            "North Somerset",
            "South Gloucestershire",
        ),
    ),
    "Cleveland": (
        ("cleveland",),
        ("Hartlepool", "Middlesbrough", "Redcar and Cleveland", "Stockton-on-Tees"),
    ),
    "Humberside": (
        ("humberside",),
        (
            "East Riding of Yorkshire",
            "Kingston upon Hull, City of",
            "North Lincolnshire",
            "North East Lincolnshire",
        ),
    ),
    "Northamptonshire": (
        ("northamptonshire", "northants"),
        ("North Northamptonshire", "West Northamptonshire"),
    ),
    "Sussex": (
        ("sussex",),
        ("county:East Sussex", "county:West Sussex", "Brighton and Hove"),
    ),
    "Middlesex": (
        ("middlesex", "middx"),
        (
            "Barnet",
            "Brent",
            "Ealing",
            "Enfield",
            "Haringey",
            "Harrow",
            "Hillingdon",
            "Hounslow",
            "Richmond upon Thames",
            "Spelthorne",
            "Camden",
            "Hackney",
            "Islington",
            "Westminster",
            "Kensington and Chelsea",
            "Hammersmith and Fulham",
            "Tower Hamlets",
            "City of London",
        ),
    ),
    "Gwent": (
        ("gwent",),
        ("Blaenau Gwent", "Caerphilly", "Monmouthshire", "Newport", "Torfaen"),
    ),
    "Glamorgan": (
        ("glamorgan", "glamorgan county", "morgannwg"),
        (
            "Bridgend",
            "Merthyr Tydfil",
            "Rhondda Cynon Taf",
            "Caerphilly",
            "Cardiff",
            "Vale of Glamorgan",
            "Swansea",
            "Neath Port Talbot",
        ),
    ),
    "Mid Glamorgan": (
        ("mid glamorgan",),
        ("Bridgend", "Merthyr Tydfil", "Rhondda Cynon Taf", "Caerphilly"),
    ),
    "South Glamorgan": (("south glamorgan",), ("Cardiff", "Vale of Glamorgan")),
    "West Glamorgan": (("west glamorgan",), ("Swansea", "Neath Port Talbot")),
    "Dyfed": (("dyfed",), ("Carmarthenshire", "Ceredigion", "Pembrokeshire")),
    "Clwyd": (("clwyd",), ("Conwy", "Denbighshire", "Flintshire", "Wrexham")),
    "Lanarkshire": (
        ("lanarkshire",),
        ("North Lanarkshire", "South Lanarkshire"),
    ),
    "Ayrshire": (
        ("ayrshire",),
        ("North Ayrshire", "South Ayrshire", "East Ayrshire"),
    ),
    "Dunbartonshire": (
        ("dunbartonshire",),
        ("East Dunbartonshire", "West Dunbartonshire", "Argyll and Bute"),
    ),
    "Lothian": (
        ("lothian", "lothians"),
        ("East Lothian", "West Lothian", "Midlothian", "City of Edinburgh"),
    ),
    # Historic (pre-1975) counties of Scotland and Wales, still written in
    # addresses ("Comrie, Perthshire"): the councils their land lies in now.
    "Perthshire": (("perthshire",), ("Perth and Kinross", "Stirling")),
    "Inverness-shire": (
        ("inverness shire", "invernessshire"),
        ("Highland", "Na h-Eileanan Siar"),
    ),
    "Ross and Cromarty": (
        ("ross shire", "rossshire", "ross and cromarty", "ross cromarty"),
        ("Highland", "Na h-Eileanan Siar"),
    ),
    "Banffshire": (("banffshire",), ("Moray", "Aberdeenshire")),
    "Kincardineshire": (
        ("kincardineshire", "the mearns"),
        ("Aberdeenshire", "Aberdeen City"),
    ),
    "Stirlingshire": (
        ("stirlingshire",),
        ("Stirling", "Falkirk", "North Lanarkshire", "East Dunbartonshire"),
    ),
    "Forfarshire": (("forfarshire",), ("Angus", "Dundee City")),
    "Buteshire": (
        ("buteshire", "county of bute"),
        ("Argyll and Bute", "North Ayrshire"),
    ),
    "Argyllshire": (("argyllshire",), ("Argyll and Bute", "Highland")),
    "Linlithgowshire": (
        ("linlithgowshire",),
        ("West Lothian", "Falkirk", "City of Edinburgh"),
    ),
    "Merionethshire": (
        ("merionethshire", "merioneth", "meirionnydd", "sir feirionnydd"),
        ("Gwynedd", "Denbighshire"),
    ),
    "Caernarfonshire": (
        ("caernarfonshire", "caernarvonshire", "carnarvonshire", "sir gaernarfon"),
        ("Gwynedd", "Conwy"),
    ),
    "County Antrim": (
        ("county antrim", "co antrim"),
        (
            "Antrim and Newtownabbey",
            "Mid and East Antrim",
            "Causeway Coast and Glens",
            "Belfast",
            "Lisburn and Castlereagh",
        ),
    ),
    "County Down": (
        ("county down", "co down"),
        (
            "Ards and North Down",
            "Newry, Mourne and Down",
            "Lisburn and Castlereagh",
            "Belfast",
            "Armagh City, Banbridge and Craigavon",
        ),
    ),
    "County Armagh": (
        ("county armagh", "co armagh"),
        ("Armagh City, Banbridge and Craigavon", "Newry, Mourne and Down"),
    ),
    "County Tyrone": (
        ("county tyrone", "co tyrone", "tyrone"),
        ("Mid Ulster", "Fermanagh and Omagh", "Derry City and Strabane"),
    ),
    "County Fermanagh": (
        ("county fermanagh", "co fermanagh"),
        ("Fermanagh and Omagh",),
    ),
    "County Londonderry": (
        ("county londonderry", "co londonderry", "county derry", "co derry"),
        ("Derry City and Strabane", "Causeway Coast and Glens", "Mid Ulster"),
    ),
}

# Unitary authorities inside the ceremonial county of a two-tier county (data
# county_name) or of a unitary council: added to that county's LADs, and to the
# LADs a council name agrees with as a qualifier ("Newport, Shropshire").
CEREMONIAL_EXTRAS: dict[str, tuple[str, ...]] = {
    "Kent": ("Medway",),
    "Essex": ("Southend-on-Sea", "Thurrock"),
    "Hampshire": ("Portsmouth", "Southampton"),
    "Devon": ("Plymouth", "Torbay"),
    "Lancashire": ("Blackpool", "Blackburn with Darwen"),
    "Nottinghamshire": ("Nottingham",),
    "Derbyshire": ("Derby",),
    "Leicestershire": ("Leicester",),
    "Staffordshire": ("Stoke-on-Trent",),
    "Cambridgeshire": ("Peterborough",),
    "Lincolnshire": ("North Lincolnshire", "North East Lincolnshire"),
    "East Sussex": ("Brighton and Hove",),
    "Gloucestershire": ("South Gloucestershire",),
    "Shropshire": ("Telford and Wrekin",),
    "Somerset": ("Bath and North East Somerset", "North Somerset"),
    "Wiltshire": ("Swindon",),
    "Dorset": ("Bournemouth, Christchurch and Poole",),
    "Buckinghamshire": ("Milton Keynes",),
    "North Yorkshire": ("York", "Middlesbrough", "Redcar and Cleveland"),
    "County Durham": ("Darlington", "Hartlepool", "Stockton-on-Tees"),
    "Cornwall": ("Isles of Scilly",),
    "East Riding of Yorkshire": ("Kingston upon Hull, City of",),
    # historic counties larger than the council of that name ("Greenock,
    # Renfrewshire", "Currie, Midlothian", "Pontypool, Monmouthshire")
    "Renfrewshire": ("Inverclyde", "East Renfrewshire"),
    "Aberdeenshire": ("Aberdeen City",),
    "Midlothian": ("City of Edinburgh",),
    "West Lothian": ("City of Edinburgh", "Falkirk"),
    "Angus": ("Dundee City",),
    "Monmouthshire": ("Newport", "Torfaen", "Blaenau Gwent", "Caerphilly"),
    "Denbighshire": ("Wrexham", "Conwy"),
}

# Postal abbreviations of the data's two-tier counties.
COUNTY_ABBREVIATIONS: dict[str, str] = {
    "cambs": "Cambridgeshire",
    "glos": "Gloucestershire",
    "gloucs": "Gloucestershire",
    "hants": "Hampshire",
    "lancs": "Lancashire",
    "notts": "Nottinghamshire",
    "oxon": "Oxfordshire",
    "herts": "Hertfordshire",
    "leics": "Leicestershire",
    "lincs": "Lincolnshire",
    "staffs": "Staffordshire",
    "worcs": "Worcestershire",
    "warks": "Warwickshire",
    "derbys": "Derbyshire",
}

# Nations: qualifiers only ("Newport, Wales"), never a candidate on their own.
NATION_NAMES: dict[str, str] = {
    "england": "England",
    "wales": "Wales",
    "cymru": "Wales",
    "scotland": "Scotland",
    "alba": "Scotland",
    "northern ireland": "Northern Ireland",
    "n ireland": "Northern Ireland",
}
# Places whose names are country names (a Rotherham village called Wales): dropped.
COUNTRY_WORDS = {"england", "wales", "scotland", "ireland", "britain", "cymru", "uk"}

# NISRA lists these three under Belfast as well as under their own council (see
# PROVENANCE.md section 8); the Belfast rows would make "Lisburn" ambiguous.
EXCLUDED_PLACES = {
    ("lisburn", "N09000003"),
    ("north down", "N09000003"),
    ("castlereagh", "N09000003"),
}

# Words that make up many small-place names ("Church End", "Mill Lane", "High Street").
# A village-or-smaller name made only of these (or of listed ambiguous words) is
# treated like an ambiguous word of level "!".
GENERIC_TOKENS = frozenset(
    """the of and in on upon by at a under over with next to new old high low lower
    upper higher nether great little long north south east west middle mid far near
    top bottom end side green hill hills street lane road row way ways cross bridge
    town city village park wood woods field fields common church chapel mill mills
    farm house houses hall gate gates corner bank banks moor heath marsh brook well
    wells water pond pool lake cottage cottages castle tower abbey court place square
    terrace close avenue drive view valley vale dale grove garden gardens meadow
    meadows spring springs forest point head foot mount mountain rock stone oak oaks
    ash elm beech birch pine yew holly fir thorn rose black white red blue brown
    golden gold silver grey broad one two three four five six seven eight nine ten
    hundred first bay port harbour quay beach sands island isle cliff hope pleasant
    inn roads acre acres kings king queens queen bishops bishop st lodge hole gap nook
    bar post box fold yard works station market hay holy all saints no mans land
    star sun moon new centre center""".split()
)

# Names and short forms of islands and parks (landmarks.csv) that are ordinary
# words: never indexed ("Mainland", "Horse Island" as "horse", "Holy Island" as
# "holy"). Island names that are also words or first names but are still used
# alone ("Mull", "Rum", "Skye") are in ambiguous_words.txt instead.
LANDMARK_WORDS = frozenset(
    """mainland big long holy horse sheep lighthouse corporation fair burnt sunk
    bottle more may cross lock nave priest guns gums hog ewe rams ram seal whale
    slate soya bait bleat reedy scarp belle lady bach mor garbh naomh creag ile dun
    borough midland staple staples coney drakes ellens coomb burgh green little
    great east west north south inner outer bod""".split()
) | frozenset(
    # archipelagos spanning councils, and park names many towns have
    (
        "hebrides", "inner hebrides", "outer hebrides", "western isles",
        "na h innse gall", "queens park", "green park", "stanley park",
        "olympic park", "central park gardens", "the meadows", "the walled garden",
        "the japanese garden", "sensory garden", "wildlife garden", "under green",
        "pond green", "terrace gardens", "abbey park", "botanic gardens park",
        "seafield gardens", "grant park", "riverview park", "oaklands park",
        "sutton park", "magna park", "the flat cotescue park", "cooper park",
        "alice park", "elder park", "campbell park", "stewart park", "shelley park",
        "guthrie park", "katie and george park", "the highams park",
    )
)

# Postal counties still written in addresses ("Richmond, Surrey", "Sale, Cheshire"):
# extra LADs a county name agrees with as a qualifier, not part of the county itself.
POSTAL_EXTRAS: dict[str, tuple[str, ...]] = {
    "Surrey": ("Richmond upon Thames", "Kingston upon Thames", "Sutton", "Croydon"),
    "Kent": ("Bromley", "Bexley", "Greenwich", "Lewisham"),
    "Essex": (
        "Havering",
        "Redbridge",
        "Barking and Dagenham",
        "Newham",
        "Waltham Forest",
    ),
    "Cheshire": ("Stockport", "Trafford", "Tameside", "Wirral"),
    "Lancashire": (
        "Bolton",
        "Bury",
        "Oldham",
        "Rochdale",
        "Salford",
        "Wigan",
        "Manchester",
        "Liverpool",
        "Knowsley",
        "Sefton",
        "St. Helens",
        "Cumberland",
        "Westmorland and Furness",
    ),
    "Hertfordshire": ("Barnet",),
    "Worcestershire": ("Dudley",),
    "Staffordshire": ("Walsall", "Wolverhampton", "Sandwell"),
    "Warwickshire": ("Birmingham", "Coventry", "Solihull"),
}

# Phrases that contain a place name but are not places ("Duke of Edinburgh award"):
# a match on one of these hides every name inside it.
NOT_PLACES = (
    "duke of edinburgh",
    "duke of york",
    "duke of cambridge",
    "duchess of cornwall",
    "duke of cornwall",
    "prince of wales",
    "princess of wales",
    "duke of lancaster",
    "royal albert hall",
    "clark kent",
    "john lewis",
    # foods, fabrics and things named after a town
    "bakewell tart", "bakewell tarts", "bakewell pudding", "bakewell puddings",
    "paisley pattern", "paisley print", "paisley scarf", "paisley scarves",
    "paisley shirt", "paisley fabric", "eccles cake", "eccles cakes",
    "chelsea bun", "chelsea buns", "bath bun", "bath buns", "bath bomb",
    "bath bombs", "yorkshire pudding", "yorkshire puddings", "cornish pasty",
    "cornish pasties", "melton mowbray pie", "cheddar cheese", "stilton cheese",
    "wensleydale cheese", "victoria sponge", "worcester sauce",
    "worcestershire sauce", "welsh cakes", "welsh rarebit", "dundee cake",
    "arbroath smokies", "shetland pony", "shetland ponies", "shetland wool",
    "fair isle jumper", "aran jumper", "harris tweed", "border collie",
    "staffordshire bull terrier", "yorkshire terrier", "jersey royals",
    "wellington boots", "oxford comma", "cambridge analytica", "newcastle brown",
    "cumberland sausage", "cumberland sausages", "lincolnshire sausage",
)  # fmt: skip

# A capitalised name right after one of these is a surname ("Brian Kent").
FIRST_NAMES = frozenset(
    """adam alan alex alice alison amanda amy andrew andy angela ann anna anne
    anthony barbara ben bill bob brian carol caroline catherine charles charlotte
    chris christine claire colin dan daniel dave david debbie diane emma frank gary
    george graham hannah harry helen ian jack james jane janet jean jennifer jenny
    jim joan joe john jonathan julie karen kate kathryn kevin laura linda lisa liz
    louise lucy margaret maria mark martin mary matt matthew michael michelle mike
    nick nicola paul pauline peter phil philip rachel richard rob robert ruth sally
    sam sandra sarah simon steve stephen stuart sue susan tom tony tracey trevor
    valerie wendy william""".split()
)

# A capitalised name right before one of these names a body, not a place
# ("Garfield Weston Foundation", "Leeds Building Society").
BODY_WORDS = frozenset(
    "foundation trust fund lottery building society award awards prize bank".split()
)
